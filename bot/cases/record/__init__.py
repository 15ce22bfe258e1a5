"""The safeguarding record of a case (see build.py)."""

from bot.cases.record.build import *  # noqa: F401,F403
from bot.cases.record.build import FORMATS, build_record, chain_words, export_case, pdf_safe, record_schema, render  # noqa: F401
