"""Pub/Sub wiring on GCP: numbers from the config, the dead-letter path, and the IAM it needs."""

from __future__ import annotations

from agentfleet.providers.gcp.mocks import PROJECT_NUMBER
from tests.infra.gcp_helpers import PROJECT, gcp_synth

FLEET = {"queue": {"visibility_timeout_seconds": 120, "max_receive_count": 7, "retention_seconds": 86_400}}
SERVICE_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"


def test_subscription_reads_the_work_topic() -> None:
    s = gcp_synth(FLEET)
    sub, topic = s.named("moodring-agents"), s.named("moodring-work")
    assert sub.inputs["topic"] == topic.id == f"projects/{PROJECT}/topics/moodring-work"


def test_subscription_numbers_come_from_the_queue_config() -> None:
    sub = gcp_synth(FLEET).named("moodring-agents")
    assert sub.inputs["ackDeadlineSeconds"] == 120
    assert sub.inputs["messageRetentionDuration"] == "86400s"
    assert sub.inputs["deadLetterPolicy"]["maxDeliveryAttempts"] == 7


def test_retry_backoff_grows_from_ten_seconds_to_one_lease() -> None:
    assert gcp_synth(FLEET).named("moodring-agents").inputs["retryPolicy"] == {
        "minimumBackoff": "10s",
        "maximumBackoff": "120s",
    }
    # A lease longer than Pub/Sub's 600 s backoff ceiling is capped there.
    long_lease = gcp_synth({"queue": {"visibility_timeout_seconds": 600}}).named("moodring-agents")
    assert long_lease.inputs["retryPolicy"]["maximumBackoff"] == "600s"


def test_dead_letters_go_to_the_dead_letter_topic_and_are_kept_by_its_subscription() -> None:
    s = gcp_synth(FLEET)
    dl_topic = s.named("moodring-dead-letter")
    assert s.named("moodring-agents").inputs["deadLetterPolicy"]["deadLetterTopic"] == dl_topic.id
    kept = s.named("moodring-dead-letter-kept")
    assert kept.inputs["topic"] == dl_topic.id
    assert kept.inputs["messageRetentionDuration"] == "604800s"
    assert kept.inputs["expirationPolicy"] == {"ttl": ""}


def test_pubsub_service_agent_may_publish_dead_letters_and_pull_from_the_source() -> None:
    s = gcp_synth(FLEET)
    publish = [
        r
        for r in s.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
        if r.inputs["member"] == SERVICE_AGENT
    ]
    assert [(r.inputs["topic"], r.inputs["role"]) for r in publish] == [
        ("moodring-dead-letter", "roles/pubsub.publisher")
    ]
    pull = [
        r
        for r in s.of_type("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember")
        if r.inputs["member"] == SERVICE_AGENT
    ]
    assert [(r.inputs["subscription"], r.inputs["role"]) for r in pull] == [
        ("moodring-agents", "roles/pubsub.subscriber")
    ]


def test_project_number_comes_from_the_get_project_invoke_for_this_project() -> None:
    s = gcp_synth(FLEET)
    calls = [args for token, args in s.invokes if token == "gcp:organizations/getProject:getProject"]
    assert calls and all(args.get("projectId") == PROJECT for args in calls)


def test_outputs_name_the_subscription_and_topics() -> None:
    out = gcp_synth(FLEET).outputs
    assert out["cloud"] == "gcp"
    assert out["queue"] == out["subscription"] == f"projects/{PROJECT}/subscriptions/moodring-agents"
    assert out["dead_letter_queue"] == f"projects/{PROJECT}/topics/moodring-dead-letter"
    assert out["topic"] == f"projects/{PROJECT}/topics/moodring-work"
    assert out["cluster"] == "moodring"


def test_alerts_watch_this_subscription_and_the_kept_dead_letters() -> None:
    s = gcp_synth(FLEET)
    oldest = s.named("moodring-oldest-message").inputs["conditions"][0]["conditionThreshold"]
    assert 'subscription_id = "moodring-agents"' in oldest["filter"]
    assert "oldest_unacked_message_age" in oldest["filter"]
    # warm-up 90 s + three leases of 120 s
    assert oldest["thresholdValue"] == 450
    dead = s.named("moodring-dead-letters").inputs["conditions"][0]["conditionThreshold"]
    assert 'subscription_id = "moodring-dead-letter-kept"' in dead["filter"]
    assert dead["comparison"] == "COMPARISON_GT" and dead["thresholdValue"] == 0
