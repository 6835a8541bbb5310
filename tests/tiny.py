"""The smallest real training run (seconds on wuxi-single), shared by the tests that train."""

TINY = [
    "scenario=wuxi-single",
    "horizon=300",
    "n_envs=1",
    "total_timesteps=240",
    "checkpoint_every=60",
    "ppo.n_steps=60",
    "ppo.batch_size=60",
    "ppo.n_epochs=1",
    "max_minutes=null",
]
