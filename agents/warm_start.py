"""Warm start: behaviour cloning of max-pressure before PPO.

Every worker drives its simulation with max-pressure (Varaiya 2013) for ``steps`` decisions; the
shared actor is then fitted to the teacher's choices by cross-entropy over the *masked* action
distribution (masked phases have probability 0, so the clone never learns a forbidden action).
PPO then improves on the teacher instead of starting from random phase switching.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th

from agents.config import WarmStartConfig
from agents.vec_env import MultiAgentVecEnv


def behaviour_clone(model: Any, venv: MultiAgentVecEnv, cfg: WarmStartConfig, seed: int = 0) -> dict[str, float]:
    """Fit ``model``'s actor to max-pressure decisions; returns the final loss and accuracy."""
    obs, masks, actions = venv.teacher_rollouts(cfg.steps)
    policy = model.policy
    params = [p for n, p in policy.named_parameters() if not n.startswith(("value_net", "mlp_extractor.value_net",
                                                                             "vf_features_extractor"))]
    optimiser = th.optim.Adam(params, lr=cfg.learning_rate)
    rng = np.random.default_rng(seed)
    x = th.as_tensor(obs, dtype=th.float32)
    m = th.as_tensor(masks, dtype=th.bool)
    y = th.as_tensor(actions, dtype=th.long)
    n = len(y)
    loss_value = 0.0
    policy.set_training_mode(True)
    for _ in range(cfg.epochs):
        order = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            idx = th.as_tensor(order[start:start + cfg.batch_size])
            dist = policy.get_distribution(x[idx], action_masks=m[idx].numpy())
            loss = -dist.log_prob(y[idx]).mean()
            optimiser.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(params, 0.5)
            optimiser.step()
            loss_value = float(loss.detach())
    policy.set_training_mode(False)
    with th.no_grad():
        dist = policy.get_distribution(x, action_masks=masks)
        accuracy = float((dist.distribution.probs.argmax(dim=1) == y).float().mean())
    return {"loss": loss_value, "accuracy": accuracy, "samples": float(n)}
