"""Requesting and running analyses (the services; `analysis.py` computes one)."""

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict
from core.services import job_create, job_enqueue

from .access import can_decide, can_run, require
from .analysis import analyse
from .horizon import horizon
from .models import Analysis, Experiment

#: Sent by name: the tasks module imports this one, not the other way round.
ANALYSIS_TASK = "abtests.tasks.analysis_run_task"


@transaction.atomic
def analysis_request(*, actor, experiment: Experiment, trigger: str = "request") -> Analysis:
    """Queue an analysis on a worker (202). `actor=None` is the beat schedule."""
    if actor is not None:
        require(can_run(actor, experiment) or can_decide(actor, experiment), "You may not analyse this experiment.")
    if experiment.status == Experiment.Status.DRAFT:
        raise Conflict("A draft experiment has no data to analyse.", fields={"status": [experiment.status]})
    analysis = Analysis.objects.create(experiment=experiment, trigger=trigger, requested_by=actor)
    job = job_create(kind="abtests.analysis", actor=actor, obj=analysis)
    analysis.job = job
    analysis.save(update_fields=["job"])
    audit_record(action="experiment.analysis_request", actor=actor, obj=experiment,
                 changes={"analysis": {"before": None, "after": analysis.pk}, "trigger": {"before": None, "after": trigger}})
    job_enqueue(job=job, task=ANALYSIS_TASK)
    return analysis


def analyses_due() -> list[Analysis]:
    """Beat: queue one analysis for each running experiment that reached its horizon and has no
    completed, queued or running analysis yet. Running it twice queues nothing twice."""
    queued = []
    busy = (Analysis.Status.QUEUED, Analysis.Status.RUNNING, Analysis.Status.COMPLETED)
    for exp in Experiment.objects.filter(status=Experiment.Status.RUNNING).exclude(analyses__status__in=busy):
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=exp.pk)
            if locked.analyses.filter(status__in=busy).exists() or not horizon(locked)["reached"]:
                continue
            queued.append(analysis_request(actor=None, experiment=locked, trigger="beat"))
    return queued


def analysis_run(*, analysis_id: int) -> Analysis:
    analysis = Analysis.objects.select_related("experiment").get(pk=analysis_id)
    Analysis.objects.filter(pk=analysis_id).update(status=Analysis.Status.RUNNING)
    try:
        status, results, counts, code = analyse(analysis.experiment)
    except ValueError as exc:  # the data cannot support the test (e.g. zero variance)
        status, results, counts, code = Analysis.Status.FAILED, {"error": f"The data cannot support the test: {exc}"}, {}, {}
    with transaction.atomic():
        analysis.status, analysis.results, analysis.input_counts, analysis.code_version = status, results, counts, code
        analysis.finished_at = timezone.now()
        analysis.save(update_fields=["status", "results", "input_counts", "code_version", "finished_at"])
        audit_record(action="experiment.analysis", actor=None, obj=analysis.experiment,
                     changes={"analysis": {"before": None, "after": {"id": analysis.pk, "status": status}}})
    return analysis


def analysis_fail(*, analysis_id: int, error: BaseException, attempts: int = 1) -> Analysis:
    """Record that an analysis could not be computed (the worker gave up after `attempts` tries):
    failed, with the time and a message for people; the raw exception belongs in the log."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().select_related("experiment").get(pk=analysis_id)
        analysis.status = Analysis.Status.FAILED
        analysis.finished_at = timezone.now()
        analysis.results = {
            "error": (
                f"The analysis could not be computed: an internal error ({type(error).__name__}) stopped it "
                f"after {attempts} attempt(s). Nothing was decided; request a new analysis, and if it fails "
                f"again tell an administrator (the worker's log has the details for job {analysis.job_id})."
            ),
        }
        analysis.save(update_fields=["status", "finished_at", "results"])
        audit_record(action="experiment.analysis", actor=None, obj=analysis.experiment,
                     changes={"analysis": {"before": None, "after": {"id": analysis.pk, "status": analysis.status}}})
    return analysis
