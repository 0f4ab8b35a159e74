"""URL routes of the console: pages, and the JSON API under /api/v1/."""

from django.urls import path

from review import api, views

urlpatterns = [
    path("login", views.login_page),
    path("logout", views.logout_page),
    path("", views.queue_page),
    path("cases/<int:pk>", views.case_page),
    path("cases/<int:pk>/verdict", views.verdict_page),
    path("cases/<int:pk>/report", views.report_page),
    path("audit", views.audit_page),
    path("api/v1/login", api.login_view),
    path("api/v1/logout", api.logout_view),
    path("api/v1/me", api.me),
    path("api/v1/cases", api.case_list),
    path("api/v1/cases/<int:pk>", api.case_detail),
    path("api/v1/cases/<int:pk>/requests", api.case_requests),
    path("api/v1/cases/<int:pk>/verdict", api.case_verdict),
    path("api/v1/cases/<int:pk>/report", api.case_report),
    path("api/v1/audit", api.audit),
    path("api/v1/allowlist", api.allowlist),
    path("api/v1/decisions", api.decisions),
    path("api/v1/openapi.yaml", api.openapi, {"fmt": "yaml"}),
    path("api/v1/openapi.json", api.openapi, {"fmt": "json"}),
]

handler404 = "review.access.not_found"
