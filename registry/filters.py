import django_filters as filters
from django.db.models import Exists, OuterRef

from core.api import IdFilter

from .models import Dataset, ModelVersion, RegisteredModel, Stage, UseCase


class UseCaseFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username")
    business_unit = filters.CharFilter()

    class Meta:
        model = UseCase
        fields = ["owner", "business_unit"]


class DatasetFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username")
    name = filters.CharFilter()

    class Meta:
        model = Dataset
        fields = ["owner", "name", "contains_personal_data", "legal_basis"]


class RegisteredModelFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username")
    use_case = IdFilter(field_name="use_case_id")
    tag = filters.CharFilter(method="filter_tag")
    stage = filters.ChoiceFilter(choices=Stage.choices, method="filter_stage", help_text="Models having a version in this stage.")
    dataset = IdFilter(method="filter_dataset", help_text="Models with a version trained on this dataset id.")

    class Meta:
        model = RegisteredModel
        fields = ["owner", "use_case", "tag", "stage", "dataset"]

    # Exists() subqueries keep one row per model (no duplicates from joins, no DISTINCT).
    def filter_tag(self, qs, name, value):
        return qs.filter(Exists(RegisteredModel.tags.through.objects.filter(registeredmodel_id=OuterRef("pk"), tag__name=value)))

    def filter_stage(self, qs, name, value):
        return qs.filter(Exists(ModelVersion.objects.filter(model_id=OuterRef("pk"), stage=value)))

    def filter_dataset(self, qs, name, value):
        trained = ModelVersion.training_datasets.through.objects.filter(
            modelversion__model_id=OuterRef("pk"), dataset_id=value
        )
        return qs.filter(Exists(trained))


class ModelVersionFilter(filters.FilterSet):
    tag = filters.CharFilter(method="filter_tag")
    dataset = IdFilter(method="filter_dataset", help_text="Versions trained on this dataset id.")

    class Meta:
        model = ModelVersion
        fields = ["stage", "status", "tag", "dataset"]

    def filter_tag(self, qs, name, value):
        return qs.filter(Exists(ModelVersion.tags.through.objects.filter(modelversion_id=OuterRef("pk"), tag__name=value)))

    def filter_dataset(self, qs, name, value):
        return qs.filter(Exists(ModelVersion.training_datasets.through.objects.filter(modelversion_id=OuterRef("pk"), dataset_id=value)))
