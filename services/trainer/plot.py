"""The reward curve of a training run as a PNG: rewards per episode above, the learned parallelism cap below."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from services.trainer.core.search import EpisodeStats


def save_reward_curve(path: Path, curve: list[EpisodeStats], *, initial: float, final: float, rate_limit: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    episodes = [stats.episode for stats in curve]
    figure, (rewards, caps) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}, constrained_layout=True
    )
    rewards.plot(episodes, [stats.mean_reward for stats in curve], marker="o", label="population mean reward")
    rewards.plot(episodes, [stats.best_reward for stats in curve], marker=".", linestyle=":", label="best candidate")
    rewards.axhline(initial, color="tab:red", linestyle="--", label=f"starting policy, held out ({initial:.2f})")
    rewards.axhline(final, color="tab:green", linestyle="--", label=f"learned policy, held out ({final:.2f})")
    rewards.set_ylabel("mean reward per run")
    rewards.set_title("Policy search on the rate-limited quote API (simulated clock, real planner state machine)")
    rewards.grid(alpha=0.3)
    rewards.legend(loc="lower right", fontsize=8)

    learned_caps = [stats.mode.get("max_parallelism", 0) for stats in curve]
    caps.step(
        episodes,
        learned_caps,
        where="mid",
        marker="o",
        label="learned max_parallelism (0 = no cap)",
    )
    caps.axhline(rate_limit, color="tab:gray", linestyle="--", label=f"rate limit k = {rate_limit}")
    caps.set_xlabel("search episode")
    caps.set_ylabel("cap")
    caps.set_ylim(-0.5, max([rate_limit, *learned_caps]) + 1.5)
    caps.yaxis.set_major_locator(MaxNLocator(integer=True))
    caps.grid(alpha=0.3)
    caps.legend(loc="lower right", fontsize=8)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
