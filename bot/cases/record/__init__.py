"""The safeguarding record of a case, for the school's child-protection file.

- model.py: the record's shape (pydantic models; docs/record.schema.json is `record_schema()`);
- build.py: its assembly, `build_record` (reads the store) over `assemble_record` (a pure function);
- export.py: `export_case`, which renders the record and records the export on the case, and `render`;
- json.py, markdown.py, pdf.py: the three renderers;
- wording.py: the record's words as plain text, shared by the others.

All the wording is in content/messages/record.yaml. Nothing here logs anything about a case.
"""

from bot.cases.record.build import CaseFile, assemble_record, build_record
from bot.cases.record.export import export_case, render
from bot.cases.record.json import to_json
from bot.cases.record.markdown import to_markdown
from bot.cases.record.model import FORMATS, SafeguardingRecord, moment, record_schema, uk_text, utc_text
from bot.cases.record.pdf import pdf_safe, to_pdf
from bot.cases.record.wording import chain_words

__all__ = [
    "FORMATS", "CaseFile", "SafeguardingRecord", "assemble_record", "build_record", "chain_words", "export_case",
    "moment", "pdf_safe", "record_schema", "render", "to_json", "to_markdown", "to_pdf", "uk_text", "utc_text",
]
