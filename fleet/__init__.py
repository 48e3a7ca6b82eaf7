"""Tools for a platform team running copier-ml across many repositories.

`python -m fleet report` sees the fleet, `python -m fleet rollout` asks every repository to
take a release, and `python -m fleet adopt` brings a repository that copier-ml did not make
under the template. The Makefile's `fleet`, `rollout` and `adopt` targets run them.
"""
