"""Risk tier from questionnaire answers, driven by a scoring scheme that is data.

Pure functions, no Django: the scheme is the JSON of a `ScoringScheme` version.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TierResult:
    tier: int
    score: int
    # The answers that raised the tier: [{question, answer, score, min_tier}], strongest first.
    drivers: list = field(default_factory=list)


def validate_answers(scheme: dict, answers) -> dict:
    """Field-level errors (`{question_key: [message]}`); empty when every question has a known answer."""
    if not isinstance(answers, dict):
        return {"answers": ["Must be an object mapping question keys to answer keys."]}
    errors = {}
    known = {q["key"]: q for q in scheme["questions"]}
    for key, question in known.items():
        choice_keys = [c["key"] for c in question["choices"]]
        if key not in answers:
            errors[key] = [f"Required; one of {', '.join(choice_keys)}."]
        elif answers[key] not in choice_keys:
            errors[key] = [f"Unknown answer {answers[key]!r}; one of {', '.join(choice_keys)}."]
    for key in answers:
        if key not in known:
            errors[key] = ["Unknown question."]
    return errors


def compute_tier(scheme: dict, answers: dict) -> TierResult:
    """Sum the scores of the chosen answers, map the total through the thresholds, then apply
    any `min_tier` floors. Assumes `validate_answers` found nothing."""
    total = 0
    floor = 1
    chosen = []
    for question in scheme["questions"]:
        choice = next(c for c in question["choices"] if c["key"] == answers[question["key"]])
        score = int(choice.get("score", 0))
        min_tier = int(choice.get("min_tier", 1))
        total += score
        floor = max(floor, min_tier)
        chosen.append({"question": question["key"], "answer": choice["key"], "score": score, "min_tier": min_tier})
    by_score = 1
    for threshold in sorted(scheme.get("thresholds", []), key=lambda t: t["min_score"]):
        if total >= threshold["min_score"]:
            by_score = max(by_score, int(threshold["tier"]))
    tier = max(by_score, floor)
    drivers = [
        c for c in chosen
        # An answer drove the tier if it forced the floor or contributed to the score that set it.
        if (c["min_tier"] == tier > 1 and floor == tier) or (c["score"] > 0 and by_score == tier and tier > 1)
    ]
    drivers.sort(key=lambda c: (-c["min_tier"], -c["score"], c["question"]))
    return TierResult(tier=min(tier, 4), score=total, drivers=drivers)


def validate_scheme(scheme) -> dict:
    """Errors in a scoring scheme submitted by a risk officer."""
    errors = {}
    if not isinstance(scheme, dict) or not isinstance(scheme.get("questions"), list) or not scheme["questions"]:
        return {"questions": ["A non-empty list of questions is required."]}
    seen = set()
    for i, q in enumerate(scheme["questions"]):
        where = f"questions[{i}]"
        if not isinstance(q, dict) or not isinstance(q.get("key"), str) or not q.get("key"):
            errors[where] = ["Each question needs a 'key'."]
            continue
        if q["key"] in seen:
            errors[where] = [f"Duplicate question key {q['key']!r}."]
        seen.add(q["key"])
        choices = q.get("choices")
        if not isinstance(choices, list) or not choices:
            errors[where] = ["Each question needs a non-empty list of 'choices'."]
            continue
        for c in choices:
            if not isinstance(c, dict) or not c.get("key") or not isinstance(c.get("score", 0), int):
                errors[where] = ["Each choice needs a 'key' and an integer 'score'."]
            elif int(c.get("min_tier", 1)) not in (1, 2, 3, 4):
                errors[where] = ["'min_tier' must be 1–4."]
    thresholds = scheme.get("thresholds", [])
    if not isinstance(thresholds, list) or any(
        not isinstance(t, dict) or t.get("tier") not in (2, 3, 4) or not isinstance(t.get("min_score"), int)
        for t in thresholds
    ):
        errors["thresholds"] = ["A list of {tier: 2–4, min_score: integer}."]
    if not isinstance(scheme.get("ethics", []), list):
        errors["ethics"] = ["A list of {key, label}."]
    return errors
