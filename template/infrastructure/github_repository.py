"""The numeric ids of the GitHub repository that deploys, which its OIDC subject may name.

A repository with immutable subject claims (every one created or renamed since GitHub turned
them on; GitHub changelog 2026-04-23, "Immutable subject claims for GitHub Actions OIDC
tokens") presents `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` instead of `repo:OWNER/REPO:...`.
The ids never change and are never reused, so a recycled name cannot match. The bootstrap
takes them from its config, else asks GitHub's API once (`GET /repos/OWNER/REPO`).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable

API = "https://api.github.com/repos/"
HOW_TO_SET = (
    'pulumi config set githubOwnerId "$(gh api repos/{repository} --jq .owner.id)" && '
    'pulumi config set githubRepositoryId "$(gh api repos/{repository} --jq .id)"'
)


def read_repository(repository: str) -> dict:
    """GitHub's answer for the repository; a private one needs GH_TOKEN or GITHUB_TOKEN."""
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    headers = {"Accept": "application/vnd.github+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    with urllib.request.urlopen(urllib.request.Request(API + repository, headers=headers), timeout=30) as response:
        return json.load(response)


def repository_ids(
    repository: str,
    owner_id: str | None,
    repository_id: str | None,
    read: Callable[[str], dict] = read_repository,
) -> tuple[str, str]:
    """(owner id, repository id): from the config when both are set, else from GitHub."""
    if owner_id or repository_id:
        if not (owner_id and repository_id):
            raise ValueError("set both githubOwnerId and githubRepositoryId, or neither (the bootstrap asks GitHub)")
        if not (owner_id.isdigit() and repository_id.isdigit()):
            raise ValueError(f"githubOwnerId and githubRepositoryId are digits, got {owner_id!r} and {repository_id!r}")
        return owner_id, repository_id
    try:
        answer = read(repository)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"could not ask GitHub for the ids of {repository} ({error}); create the repository first, "
            f"set GH_TOKEN if it is private, or set them yourself: {HOW_TO_SET.format(repository=repository)}"
        ) from error
    if answer.get("full_name") != repository:
        # The API follows a rename or transfer; the name form of the subject would not match.
        raise ValueError(
            f"GitHub knows {repository} as {answer.get('full_name')}: answer github_repository with that "
            "(copier update --data github_repository=...) and run the bootstrap again"
        )
    return str(answer["owner"]["id"]), str(answer["id"])
