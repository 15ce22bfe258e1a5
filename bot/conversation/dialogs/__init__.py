"""One module per flow. Each holds only what cannot be data: checks, side effects and endings."""

from bot.conversation.dialogs.case_action import CaseAction
from bot.conversation.dialogs.case_close import CaseClose
from bot.conversation.dialogs.case_note import CaseNote
from bot.conversation.dialogs.case_status import ChangeCaseStatus
from bot.conversation.dialogs.get_support import GetSupport
from bot.conversation.dialogs.prevention_review import PreventionReview
from bot.conversation.dialogs.privacy_check import PrivacyCheck
from bot.conversation.dialogs.report_concern import ReportConcern

DIALOGS = [ReportConcern, PrivacyCheck, GetSupport, PreventionReview, CaseNote, CaseAction, ChangeCaseStatus, CaseClose]
