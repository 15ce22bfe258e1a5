"""One module per flow that needs code. Each holds only what cannot be data: checks, side effects and endings.
A flow with no module of its own is run by the plain step runner, from its file alone."""

from bot.conversation.dialogs.base import Dialog, StepDialog
from bot.conversation.dialogs.case_action import CaseAction
from bot.conversation.dialogs.case_close import CaseClose
from bot.conversation.dialogs.case_note import CaseNote
from bot.conversation.dialogs.case_status import ChangeCaseStatus
from bot.conversation.dialogs.get_support import GetSupport
from bot.conversation.dialogs.prevention_review import PreventionReview
from bot.conversation.dialogs.privacy_check import PrivacyCheck
from bot.conversation.dialogs.report_concern import ReportConcern
from bot.core.content import Content

DIALOGS = [ReportConcern, PrivacyCheck, GetSupport, PreventionReview, CaseNote, CaseAction, ChangeCaseStatus, CaseClose]


def dialogs_for(content: Content) -> dict[str, Dialog]:
    """A dialog for every flow in content/flows/: its module's, or the plain step runner's for a flow that is
    data alone."""
    coded: dict[str, type[Dialog]] = {cls.flow_id: cls for cls in DIALOGS}
    plain = {flow_id: type(f"PlainFlow_{flow_id}", (StepDialog,), {"flow_id": flow_id})
             for flow_id in content.flows if flow_id not in coded}
    return {flow_id: {**coded, **plain}[flow_id](content) for flow_id in content.flows}
