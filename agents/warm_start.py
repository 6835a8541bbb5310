"""Warm start: behaviour cloning of a heuristic teacher before PPO.

Every worker drives its simulation with the teacher (``max_pressure``, Varaiya 2013, ``gap_out``,
vehicle-actuated control, or ``time_loss``, delay-based actuated control: :mod:`envs.heuristics`)
for ``steps`` decisions; the
shared actor is then fitted to the teacher's choices by cross-entropy over the *masked* action
distribution (masked phases have probability 0, so the clone never learns a forbidden action).
PPO then improves on the teacher instead of starting from random phase switching. The critic is
fitted to the teacher's discounted returns as well (value pretraining), so that PPO's first updates
follow real advantages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th

from agents.config import WarmStartConfig
from agents.progress import Progress
from agents.vec_env import MultiAgentVecEnv

_CRITIC_PREFIXES = ("value_net", "mlp_extractor.value_net", "vf_features_extractor")


def behaviour_clone(
    model: Any,
    venv: MultiAgentVecEnv,
    cfg: WarmStartConfig,
    seed: int = 0,
    normalizer: Any = None,
    progress: Progress | None = None,
    clone_actor: bool = True,
) -> dict[str, float]:
    """Fit ``model``'s actor to the teacher's decisions, then (``cfg.critic_epochs`` > 0) its critic
    to the teacher's discounted returns, so PPO's first advantages are not the noise of a random
    critic (which otherwise pulls the cloned policy away from the teacher before the critic has
    learnt anything). ``normalizer`` is the ``VecNormalize`` wrapper, if rewards are normalised:
    its return statistics are seeded from the teacher's rewards and the value targets are scaled
    the same way PPO's rewards will be. ``progress`` gets a line per stage. ``clone_actor=False``
    (fine-tuning a policy loaded with ``init_from``) keeps the actor and fits only the critic, to
    this net's returns and reward scale. Returns losses, accuracy and the critic's explained
    variance.
    """
    say = progress.stage if progress is not None else (lambda text: None)
    say(
        f"warm start 1/3: the {cfg.teacher} teacher drives {venv.n_sims} simulation(s) for {cfg.steps} "
        f"decisions each ({cfg.steps * venv.n_agents * venv.n_sims:,} agent-steps)"
    )
    batch = venv.teacher_rollouts(cfg.steps, cfg.teacher, model.gamma)
    obs, masks, actions, returns, valid = batch.obs, batch.masks, batch.actions, batch.returns, batch.valid
    policy = model.policy
    actor = [p for n, p in policy.named_parameters() if not n.startswith(_CRITIC_PREFIXES)]
    critic = [p for n, p in policy.named_parameters() if n.startswith(_CRITIC_PREFIXES)]
    rng = np.random.default_rng(seed)
    x = th.as_tensor(obs, dtype=th.float32)
    y = th.as_tensor(actions, dtype=th.long)

    def actor_loss(idx: th.Tensor) -> th.Tensor:
        return -policy.get_distribution(x[idx], action_masks=masks[idx.numpy()]).log_prob(y[idx]).mean()

    policy.set_training_mode(True)
    stats = {"samples": float(len(y))}
    if clone_actor:
        say(
            f"warm start 2/3: cloning the teacher into the actor ({cfg.epochs} epochs over {len(y):,} decisions)"
        )
        stats["loss"] = _fit(actor, actor_loss, len(y), cfg.epochs, cfg, rng)
    else:
        say("warm start 2/3: the actor is kept as loaded (init_from); the teacher's returns fit the critic")
    if cfg.critic_epochs > 0 and valid.any():
        say(f"warm start 3/3: fitting the critic to the teacher's returns ({cfg.critic_epochs} epochs)")
        scale = 1.0
        if normalizer is not None:
            normalizer.ret_rms.update(batch.running)
            scale = float(np.sqrt(normalizer.ret_rms.var + normalizer.epsilon))
        keep = np.flatnonzero(valid)
        xv = x[keep]
        target = th.as_tensor(returns[keep] / scale, dtype=th.float32)

        def critic_loss(idx: th.Tensor) -> th.Tensor:
            return th.nn.functional.mse_loss(policy.predict_values(xv[idx]).flatten(), target[idx])

        stats["value_loss"] = _fit(critic, critic_loss, len(keep), cfg.critic_epochs, cfg, rng)
        with th.no_grad():
            pred = policy.predict_values(xv).flatten()
        stats["value_explained_variance"] = float(1 - th.var(target - pred) / th.var(target).clamp(min=1e-8))
    policy.set_training_mode(False)
    with th.no_grad():
        hit = (policy.get_distribution(x, action_masks=masks).distribution.probs.argmax(dim=1) == y).float()
        stats["accuracy"] = float(hit.mean())
        free = th.as_tensor(
            masks.sum(axis=1) > 1
        )  # decisions with a real choice (not forced by min/max green)
        if free.any():
            stats["accuracy_free"] = float(hit[free].mean())
    who = "the clone" if clone_actor else "the loaded policy"
    say(f"warm start done: {who} agrees with the teacher on {stats['accuracy']:.1%} of decisions")
    return stats


def _fit(
    params: list, loss_fn: Any, n: int, epochs: int, cfg: WarmStartConfig, rng: np.random.Generator
) -> float:
    """Adam over shuffled minibatches of ``range(n)``; returns the last minibatch loss."""
    optimiser = th.optim.Adam(params, lr=cfg.learning_rate)
    loss_value = 0.0
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            loss = loss_fn(th.as_tensor(order[start : start + cfg.batch_size]))
            optimiser.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(params, 0.5)
            optimiser.step()
            loss_value = float(loss.detach())
    return loss_value
