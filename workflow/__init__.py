"""The rights workflow over the catalog: review queue, disputes, strikes,
exclusions, licences, notices, ownership conflicts, audit log, transparency."""

from .store import WorkflowParams, Workflow, WorkflowError, iso, parse

__all__ = ["WorkflowParams", "Workflow", "WorkflowError", "iso", "parse"]
