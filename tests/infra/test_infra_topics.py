"""Tests for the topic catalogue (infra.topics)."""

from __future__ import annotations

from infra import topics


def test_default_names_are_the_catalogue_constants() -> None:
    assert topics.topic_names() == topics.ROLES
    assert topics.ROLES["spans"] == topics.SPANS == "driftline.spans"


def test_a_suffix_gives_every_role_its_own_isolated_name() -> None:
    names = topics.topic_names(prefix="ci.", suffix="t123")

    assert names["rollbacks"] == "ci.driftline.rollbacks.t123"
    assert set(names) == set(topics.ROLES)
    assert not set(names.values()) & set(topics.ROLES.values())


def test_state_topics_are_compacted_and_streams_are_not() -> None:
    specs = topics.default_specs()

    for name in (topics.DEPLOYMENTS, topics.PROFILES):
        assert specs[name].config["cleanup.policy"] == "compact"
    for name in (topics.SPANS, topics.FEATURES, topics.SIGNALS, topics.DEADLETTER):
        assert "cleanup.policy" not in specs[name].config
    assert specs[topics.SPANS].partitions == specs[topics.FEATURES].partitions == 4


def test_specs_do_not_share_mutable_config() -> None:
    first = topics.default_specs()
    first[topics.PROFILES].config["cleanup.policy"] = "delete"

    assert topics.default_specs()[topics.PROFILES].config["cleanup.policy"] == "compact"
