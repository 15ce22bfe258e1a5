"""One module per flow. Each holds only what cannot be data: checks, side effects and endings."""

from bot.dialogs.case_action import CaseAction
from bot.dialogs.case_close import CaseClose
from bot.dialogs.case_note import CaseNote
from bot.dialogs.case_status import ChangeCaseStatus
from bot.dialogs.get_support import GetSupport
from bot.dialogs.prevention_review import PreventionReview
from bot.dialogs.privacy_check import PrivacyCheck
from bot.dialogs.report_concern import ReportConcern

DIALOGS = [ReportConcern, PrivacyCheck, GetSupport, PreventionReview, CaseNote, CaseAction, ChangeCaseStatus, CaseClose]
