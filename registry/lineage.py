"""Dataset lineage: which datasets a dataset derives from, and which derive from it.

A breadth-first walk over `Dataset.derived_from`'s link table, one query per level (the same
SQL on SQLite and PostgreSQL); the visited set makes it stop on any graph, even one with a
cycle written past the services.
"""

from .models import Dataset

_links = Dataset.derived_from.through  # from_dataset (the derived one) → to_dataset (its source)


def _walk(start_ids, *, up: bool) -> dict[int, int]:
    """{dataset id: level} reachable from `start_ids` (level 1 = direct), excluding the start."""
    seen: dict[int, int] = {}
    frontier = set(start_ids)
    visited = set(frontier)
    level = 0
    while frontier:
        level += 1
        if up:
            rows = _links.objects.filter(from_dataset_id__in=frontier).values_list("to_dataset_id", flat=True)
        else:
            rows = _links.objects.filter(to_dataset_id__in=frontier).values_list("from_dataset_id", flat=True)
        frontier = set(rows) - visited
        visited |= frontier
        for pk in frontier:
            seen[pk] = level
    return seen


def ancestors(dataset_ids) -> dict[int, int]:
    """Datasets the given ones were derived from, directly or not: {id: level}."""
    return _walk(dataset_ids, up=True)


def descendants(dataset_ids) -> dict[int, int]:
    """Datasets derived from the given ones, directly or not: {id: level}."""
    return _walk(dataset_ids, up=False)


def would_cycle(dataset_id: int, parent_ids) -> bool:
    """Deriving `dataset_id` from `parent_ids` closes a cycle when it is one of them or one of
    their ancestors."""
    parents = set(parent_ids)
    return dataset_id in parents or dataset_id in ancestors(parents)
