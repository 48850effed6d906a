"""Per-mode, per-metric history of logged values (Trax's ``History``)."""

import collections


class History:
    """Records ``(step, value)`` pairs under ``mode`` and ``metric`` names,
    e.g. ``history.get('eval', 'metrics/WeightedCategoryAccuracy')``."""

    def __init__(self):
        self._values = collections.defaultdict(
            lambda: collections.defaultdict(list))

    def append(self, mode, metric, step, value):
        self._values[mode][metric].append((step, value))

    def get(self, mode, metric):
        return list(self._values.get(mode, {}).get(metric, []))

    @property
    def modes(self):
        return sorted(self._values)

    def metrics_for_mode(self, mode):
        return sorted(self._values.get(mode, {}))

    def to_dict(self):
        return {f"{mode}/{metric}": [list(p) for p in pairs]
                for mode, metrics in sorted(self._values.items())
                for metric, pairs in sorted(metrics.items())}

    @classmethod
    def from_dict(cls, values):
        """The inverse of :meth:`to_dict` (how checkpoints keep history)."""
        history = cls()
        for key, pairs in values.items():
            mode, _, metric = key.partition("/")
            for step, value in pairs:
                history.append(mode, metric, int(step), value)
        return history

    def __repr__(self):
        return f"History({self.to_dict()!r})"
