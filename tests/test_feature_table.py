"""The tier and feature table: one source, followed by names, contents and updates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import TEMPLATE, load_extension, project_files, render

features = load_extension("features")
COPIER = yaml.safe_load((TEMPLATE / "copier.yml").read_text())


def test_copier_offers_exactly_the_tiers_of_the_table() -> None:
    assert COPIER["tier"]["choices"] == list(features.TIERS)


def test_small_is_the_quick_experiment_layout() -> None:
    assert features.resolve_features("small") == ["sample_notebook"]


def test_every_medium_feature_is_in_large() -> None:
    assert set(features.TIERS["medium"]) <= set(features.TIERS["large"])


def test_including_a_feature_brings_what_it_requires() -> None:
    chosen = features.resolve_features("small", ["ci"])
    assert {"ci", "makefile", "tests", "src", "configs"} <= set(chosen)


def test_excluding_removes_only_that_feature() -> None:
    medium = set(features.resolve_features("medium"))
    assert set(features.resolve_features("medium", [], ["contributing"])) == medium - {
        "contributing"
    }


def test_features_keep_the_table_order() -> None:
    chosen = features.resolve_features("medium")
    assert chosen == [name for name in features.FEATURES if name in chosen]


def test_every_required_feature_exists() -> None:
    for feature in features.FEATURES.values():
        assert feature.requires <= features.FEATURES.keys()


@pytest.mark.parametrize("tier", list(features.TIERS))
def test_every_tier_is_consistent_on_its_own(tier: str) -> None:
    assert features.feature_problems(tier) == ""


def test_unknown_tier_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="tier: unknown tier 'huge'"):
        features.resolve_features("huge")


def test_unknown_feature_is_named_in_the_problem() -> None:
    assert "unknown feature(s) gpu" in features.feature_problems("medium", ["gpu"])


def test_a_feature_both_included_and_excluded_is_a_problem() -> None:
    assert "both included and excluded" in features.feature_problems("small", ["ci"], ["ci"])


def test_prompt_offers_to_include_only_what_the_tier_lacks() -> None:
    offered = set(features.feature_choices("small", "include").values())
    assert offered == set(features.FEATURES) - {"sample_notebook"}


def test_prompt_offers_to_exclude_only_what_the_tier_has() -> None:
    offered = set(features.feature_choices("medium", "exclude").values())
    assert offered == set(features.TIERS["medium"])


def test_answers_file_stores_the_tier_not_per_feature_flags(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=[], exclude_features=["ci"])
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    questions = {key for key in COPIER if not key.startswith("_")}
    assert set(answers) - {"_commit", "_src_path"} <= questions
    assert answers["tier"] == "medium"
    assert answers["exclude_features"] == ["ci"]
    assert not any(key in features.FEATURES for key in answers)


def test_file_names_follow_the_table(tmp_path: Path) -> None:
    small = project_files(render(tmp_path / "small", tier="small"))
    medium = project_files(render(tmp_path / "medium", tier="medium"))
    assert "notebooks/exploration.ipynb" in small - medium
    assert "Makefile" in medium - small
