"""Privacy fixtures: a lineage three levels deep with key indexes, models on it, built via services.

raw (keys: alice, bob) → cleaned → features → sample;  other (keys: carol)
credit-gbm v1 trained on `sample` (three derivations below `raw`), validated on `other`;
churn-lr v1 validated on `cleaned`; fraud-nn v1 trained on `other` only.
sam is the Accountable of model acceptance (RACI) for dana's use case; rita and omar are risk officers.
"""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def keys_file(*lines: str, name="keys.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode())


@pytest.fixture
def world(cast):
    from governance.classification import classification_submit
    from governance.raci import raci_update
    from privacy import services as privacy
    from registry import services as reg

    dana = cast["dana"]
    use_case = reg.use_case_create(actor=dana, name="Credit limits", automated_decisions=True,
                                   human_review_route="Write to reviews@bank.example; a credit officer decides.")
    classification_submit(actor=cast["omar"], use_case=use_case, answers=LOW)
    raci_update(actor=cast["omar"], use_case=use_case, assignments={"risk_audit": ["sam"]})

    def ds(name, parents=(), **extra):
        return reg.dataset_create(actor=dana, name=name, version="1", source_uri=f"s3://{name}", sha256=sha(name),
                                  contains_personal_data=True, legal_basis="contract", derived_from=parents, **extra)

    raw = ds("raw", collection_method="Branch application forms", personal_data_categories=["contact", "financial"])
    cleaned = ds("cleaned", [raw])
    features = ds("features", [cleaned])
    sample = ds("sample", [features])
    other = ds("other")
    privacy.subject_keys_upload(actor=dana, dataset=raw, fileobj=keys_file("alice", "bob"))
    privacy.subject_keys_upload(actor=dana, dataset=other, fileobj=keys_file("carol"))

    def model(name):
        return reg.model_create(actor=dana, name=name, use_case=use_case)

    credit, churn, fraud = model("credit-gbm"), model("churn-lr"), model("fraud-nn")
    v = {
        "credit": reg.model_version_register(actor=dana, model=credit, artifact_uri="s3://m/c1", sha256=sha("c1"),
                                             training_datasets=[sample], validation_datasets=[other], code_commit="abc1234"),
        "churn": reg.model_version_register(actor=dana, model=churn, artifact_uri="s3://m/h1", sha256=sha("h1"),
                                            training_datasets=[other], validation_datasets=[cleaned], code_commit="abc1234"),
        "fraud": reg.model_version_register(actor=dana, model=fraud, artifact_uri="s3://m/f1", sha256=sha("f1"),
                                            training_datasets=[other], code_commit="abc1234"),
    }
    return {"use_case": use_case, "raw": raw, "cleaned": cleaned, "features": features, "sample": sample,
            "other": other, "credit": credit, "churn": churn, "fraud": fraud, "v": v, "ds": ds}


@pytest.fixture
def erasure(world, cast):
    """rita records alice's erasure request."""
    from privacy import services as privacy

    return privacy.subject_request_create(actor=cast["rita"], kind="erasure", subject_key="alice", reference="DSR-1")
