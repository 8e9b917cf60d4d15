"""Pagination shared by the portal's list pages."""

from django.core.paginator import Paginator

PAGE_SIZE = 50


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def querystring_without_page(request) -> str:
    """The current filters, to carry into the pager's links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
