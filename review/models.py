"""The console's tables: cases and their members, decisions, access events, the verdict audit log, allowlist
requests, login attempts and the Kafka feed's offsets."""

from __future__ import annotations

from typing import Any

from django.db import models

STATUSES = ("open", "escalated", "confirmed", "dismissed", "merged")
"""`open` and `escalated` are in the queue; `confirmed` and `dismissed` are closed by a verdict; `merged` cases were
folded into a group case."""
IN_QUEUE = ("open", "escalated")


class Case(models.Model):
    """What an analyst reviews: one subject, or one group of subjects (a coordinated fleet) with its members."""

    kind = models.CharField(max_length=32, help_text="'subject', or the group kind (e.g. 'coordinated_fleet')")
    key = models.CharField(max_length=300, help_text="subject_type:subject, or kind:group key")
    label = models.TextField(help_text="what the group has in common, for display")
    status = models.CharField(max_length=16, default="open")
    subject_type = models.CharField(max_length=8)
    subject = models.CharField(max_length=300, blank=True, help_text="empty for a group")
    action = models.CharField(max_length=16, help_text="the strongest action decided on any member")
    score = models.FloatField(default=0.0)
    risk = models.FloatField(default=0.0, help_text="rank of the strongest action (0-2) + the highest score")
    reasons = models.TextField(default="|", help_text="|reason|reason|: every reason code, for filtering")
    member_count = models.IntegerField(default=0)
    decision_count = models.IntegerField(default=0)
    account_age_s = models.FloatField(null=True, help_text="youngest member's account age at its first decision")
    first_seen = models.DateTimeField(help_text="event time of the first decision")
    last_seen = models.DateTimeField(help_text="event time of the latest decision")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True)
    merged_into = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="merged")

    class Meta:
        indexes = [
            models.Index(fields=["status", "-risk", "-last_seen"], name="case_queue"),
            models.Index(fields=["key", "status"], name="case_key"),
            models.Index(fields=["status", "action"], name="case_action"),
            models.Index(fields=["status", "subject_type"], name="case_subject_type"),
            models.Index(fields=["status", "last_seen"], name="case_last_seen"),
        ]

    @property
    def reason_list(self) -> list[str]:
        return [r for r in self.reasons.split("|") if r]

    @property
    def is_group(self) -> bool:
        return self.kind != "subject"


class Member(models.Model):
    """A subject in a case (a subject case has exactly one: itself)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="members")
    subject_type = models.CharField(max_length=8)
    subject = models.CharField(max_length=300)
    added_at = models.DateTimeField(auto_now_add=True)
    verdict = models.CharField(max_length=16, blank=True, help_text="the latest verdict on this member in this case")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "subject_type", "subject"], name="member_once")]
        indexes = [models.Index(fields=["subject_type", "subject"], name="member_subject")]


class DecisionRecord(models.Model):
    """A v1 decision as read from the detector (idempotent on decision_id)."""

    decision_id = models.CharField(max_length=36, unique=True)
    case = models.ForeignKey(Case, null=True, on_delete=models.SET_NULL, related_name="decisions")
    subject_type = models.CharField(max_length=8)
    subject = models.CharField(max_length=300)
    action = models.CharField(max_length=16)
    score = models.FloatField()
    reasons = models.JSONField()
    evidence = models.JSONField()
    event_time = models.DateTimeField()
    expires_at = models.DateTimeField()
    emitted_at = models.DateTimeField()
    detector_version = models.CharField(max_length=100)
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject_type", "subject", "event_time"], name="decision_subject"),
            models.Index(fields=["event_time"], name="decision_time"),
        ]

    def as_v1(self) -> dict[str, Any]:
        from detectors.events import format_ms

        return {
            "decision_id": self.decision_id,
            "subject_type": self.subject_type,
            "subject": self.subject,
            "action": self.action,
            "score": self.score,
            "reasons": self.reasons,
            "evidence": self.evidence,
            "event_time": format_ms(_ms(self.event_time)),
            "emitted_at": format_ms(_ms(self.emitted_at)),
            "expires_at": format_ms(_ms(self.expires_at)),
            "detector_version": self.detector_version,
        }


class Event(models.Model):
    """A v1 access event, routed (action, target), with its /24 or /48 network; `uid` is where it was read."""

    uid = models.CharField(max_length=400, unique=True, help_text="file:line or topic:partition:offset")
    ts = models.BigIntegerField(help_text="epoch milliseconds")
    ip = models.CharField(max_length=45)
    network = models.CharField(max_length=50)
    account_id = models.CharField(max_length=300, null=True)
    account_created_at = models.BigIntegerField(null=True)
    method = models.CharField(max_length=16)
    path = models.TextField()
    status = models.IntegerField()
    user_agent = models.TextField(null=True)
    ua_hash = models.CharField(max_length=16, default="")
    referer = models.TextField(null=True)
    bytes = models.BigIntegerField(null=True)
    action = models.CharField(max_length=16)
    target = models.CharField(max_length=300, null=True)

    class Meta:
        indexes = [
            models.Index(fields=["account_id", "ts"], name="event_account"),
            models.Index(fields=["ip", "ts"], name="event_ip"),
            models.Index(fields=["network"], name="event_network"),
            models.Index(fields=["ua_hash"], name="event_ua"),
            models.Index(fields=["ts"], name="event_ts"),
        ]


class AuditEntry(models.Model):
    """One verdict on one subject: who, when, what, why, and the v1 verdict as sent. Append-only: the database
    refuses UPDATE and DELETE on this table (triggers in migration 0002)."""

    at = models.DateTimeField(auto_now_add=True, help_text="wall clock of the verdict")
    analyst = models.CharField(max_length=150)
    role = models.CharField(max_length=16)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="audit")
    verdict = models.CharField(max_length=16)
    subject_type = models.CharField(max_length=8)
    subject = models.CharField(max_length=300)
    ts = models.BigIntegerField(help_text="event time the verdict takes effect at (epoch ms)")
    note = models.TextField()
    allowlist = models.BooleanField(default=False)
    verdict_id = models.CharField(max_length=36, unique=True)
    destination = models.CharField(max_length=400)
    message = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject"], name="audit_subject")]


class AllowlistRequest(models.Model):
    """A dismissal that asked for an allowlist entry: recorded for an admin to add to the detector's config."""

    created_at = models.DateTimeField(auto_now_add=True)
    analyst = models.CharField(max_length=150)
    case = models.ForeignKey(Case, on_delete=models.PROTECT)
    subject_type = models.CharField(max_length=8)
    subject = models.CharField(max_length=300)
    note = models.TextField()
    verdict_id = models.CharField(max_length=36)


class LoginAttempt(models.Model):
    """A login attempt, for rate limiting per user name and per client address."""

    at = models.DateTimeField(auto_now_add=True)
    username = models.CharField(max_length=150)
    ip = models.CharField(max_length=45)
    success = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="login_user"),
            models.Index(fields=["ip", "at"], name="login_ip"),
        ]


class FeedOffset(models.Model):
    """The next Kafka offset to read per topic partition, committed with the rows it produced."""

    topic = models.CharField(max_length=300)
    partition = models.IntegerField()
    offset = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "partition"], name="feed_offset_once")]


def _ms(dt: Any) -> int:
    return round(dt.timestamp() * 1000)
