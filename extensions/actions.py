"""Every GitHub Action the workflows use, pinned to the commit of one release.

A tag can be moved to other code; a commit cannot. A workflow template names an action
as ``{{ "actions/checkout" | action }}`` (the filter extensions/context.py adds), which
renders ``actions/checkout@<commit>  # v5.1.0``: the commit to run and, in the comment,
its release, which Dependabot and Renovate read to propose the next one. Bump an action
here, never in a template. This repository's own workflows (.github/workflows) write
the same pins out; a test checks that they match.
"""

from __future__ import annotations

#: action -> (commit, release): the newest release of the major version in use.
ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "v5.1.0"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
    "actions/upload-artifact": ("b7c566a772e6b6bfb58ed0dc250532a479d7789f", "v6.0.0"),
    "actions/download-artifact": ("37930b1c2abaa49bbe596cd826c3c89aef350131", "v7.0.0"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
    "astral-sh/setup-uv": ("37802adc94f370d6bfd71619e3f0bf239e1f3b78", "v7.6.0"),
    "peter-evans/create-pull-request": ("22a9089034f40e5a961c8808d113e2c98fb63676", "v7.0.11"),
    "docker/setup-buildx-action": ("8d2750c68a42422c14e847fe6c8ac0403b4cbd6f", "v3.12.0"),
    "docker/build-push-action": ("10e90e3645eae34f1e60eeb005ba3a3d33f178e8", "v6.19.2"),
    "aws-actions/configure-aws-credentials": (
        "61815dcd50bd041e203e49132bacad1fd04d2708",
        "v5.1.1",
    ),
    "aws-actions/amazon-ecr-login": ("03f1aad4c6c7ffd436567f42f9384779290529bd", "v2.1.7"),
    "azure/login": ("7184910d9eb2b1c5e48f7073824a90609bb9b6d6", "v2.3.1"),
    "google-github-actions/auth": ("7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "google-github-actions/setup-gcloud": ("aa5489c8933f4cc7a4f7d45035b3b1440c9c10db", "v3.0.1"),
}


def pinned(action: str) -> str:
    """``owner/repo@<commit>  # <release>``, the value of a workflow step's ``uses:``."""
    try:
        commit, release = ACTIONS[action]
    except KeyError:
        raise ValueError(f"{action}: not in extensions/actions.py's ACTIONS") from None
    return f"{action}@{commit}  # {release}"
