from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import ApiToken, BackgroundJob
from .roles import user_roles
from .serializers import ApiTokenSerializer, BackgroundJobSerializer, NewApiTokenSerializer
from .services import token_create, token_revoke


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"username": request.user.username, "roles": sorted(user_roles(request.user))})


class ApiTokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Your own API tokens. Creating answers the key once; revoking keeps the row for the trail."""

    serializer_class = ApiTokenSerializer
    # Any signed-in user, auditors included, may manage their own tokens.
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = token_create(
            user=request.user, actor=request.user, name=serializer.validated_data.get("name", ""),
            scope=serializer.validated_data.get("scope"),
        )
        token.key = key
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = token_revoke(token=self.get_object(), actor=request.user)
        return Response(ApiTokenSerializer(token).data)


class BackgroundJobViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Background work and its progress (what the portal polls)."""

    serializer_class = BackgroundJobSerializer
    queryset = BackgroundJob.objects.all()
    filterset_fields = ["kind", "status", "object_type", "object_id"]
