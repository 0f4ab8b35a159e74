"""Who may do what: roles, login required everywhere, login rate limits, CSRF failures, the page security policy.

Roles (Django groups of the same name), weakest first:
- viewer: reads the queue, cases and reports, with every identifier replaced by its pseudonym;
- analyst: sees identifiers in full, gives verdicts, exports reports (pseudonymised or not);
- admin: an analyst who also reads the whole audit log and the allowlist requests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

ROLES = ("viewer", "analyst", "admin")
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
OPEN_PATHS = ("/login", "/api/v1/login", "/api/v1/openapi.yaml", "/api/v1/openapi.json")


def role_of(user: Any) -> str | None:
    """The user's strongest role, or None (no role: no access)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return "admin"
    cached = getattr(user, "_review_role", False)  # one query per request, not one per use
    if cached is False:
        names = set(user.groups.values_list("name", flat=True))
        cached = user._review_role = next((r for r in reversed(ROLES) if r in names), None)
    return cached


def at_least(user: Any, role: str) -> bool:
    """Whether the user's role is `role` or stronger."""
    mine = role_of(user)
    return mine is not None and ROLES.index(mine) >= ROLES.index(role)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A refusal: JSON `{"error": ...}` for the API, a plain page otherwise."""
    if is_api(request):
        return JsonResponse({"error": message}, status=status)
    return render(request, "review/error.html", {"status": status, "message": message}, status=status)


def requires(role: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: 403 unless the user has `role` or stronger (login itself is checked by the middleware)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not at_least(request.user, role):
                return error(request, 403, f"this needs the {role} role; you are {role_of(request.user) or 'no role'}")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class LoginRequiredMiddleware:
    """No page or API without login: pages redirect to the login page, the API answers 401. A user without a role
    (or disabled since logging in) is refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path not in OPEN_PATHS:
            if not request.user.is_authenticated:
                if is_api(request):
                    return JsonResponse({"error": "not logged in: POST /api/v1/login first"}, status=401)
                return redirect(f"/login?next={request.path}")
            if role_of(request.user) is None:
                return error(request, 403, "your account has no role; ask an admin (scrapeguard review user set-role)")
        response = self.get_response(request)
        if response.status_code == 405 and is_api(request):
            allowed = response.get("Allow", "")
            return JsonResponse({"error": f"method {request.method} is not allowed here; use {allowed}"}, status=405)
        return response


class ContentSecurityPolicyMiddleware:
    """The pages run no script at all; the policy says so, so that anything injected would not run either."""

    POLICY = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.POLICY)
        return response


def client_address(request: HttpRequest) -> str:
    """The peer address (no proxy header is trusted)."""
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def login_refusal(username: str, address: str) -> str | None:
    """Why a login attempt is refused before the password is checked (too many recent failures), or None."""
    from review.models import LoginAttempt

    since = timezone.now() - LOGIN_WINDOW
    recent = LoginAttempt.objects.filter(at__gte=since, success=False)
    minutes = int(LOGIN_WINDOW.total_seconds() // 60)
    if recent.filter(username=username).count() >= MAX_FAILURES_PER_USER:
        return f"too many failed logins for this user name; try again in {minutes} minutes"
    if recent.filter(ip=address).count() >= MAX_FAILURES_PER_ADDRESS:
        return f"too many failed logins from this address; try again in {minutes} minutes"
    return None


def attempt_login(request: HttpRequest, username: str, password: str) -> tuple[int, str]:
    """Authenticate and log in; (HTTP status, message). Refused attempts are rate limited per user and address."""
    from django.contrib.auth import authenticate, login

    from review.models import LoginAttempt

    address = client_address(request)
    refusal = login_refusal(username, address)
    if refusal:
        return 429, refusal
    user = authenticate(request, username=username, password=password)
    LoginAttempt.objects.filter(at__lt=timezone.now() - 4 * LOGIN_WINDOW).delete()  # only recent ones count
    LoginAttempt.objects.create(username=username[:150], ip=address, success=user is not None)
    if user is None:
        return 401, "wrong user name or password (or the account is disabled)"
    if role_of(user) is None:
        return 403, "your account has no role; ask an admin (scrapeguard review user set-role)"
    login(request, user)
    return 200, "logged in"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF check failed: say so, in JSON for the API."""
    return error(request, 403, f"CSRF check failed ({reason}); reload the page, or send the X-CSRFToken header")


def role(request: HttpRequest) -> dict[str, Any]:
    """Template context: the user's role and what it may do."""
    mine = role_of(request.user)
    return {
        "role": mine,
        "can_judge": mine in ("analyst", "admin"),
        "is_admin": mine == "admin",
        "full_identifiers": mine in ("analyst", "admin"),
    }


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """No such page or endpoint."""
    return error(request, 404, f"no such page: {request.path}")
