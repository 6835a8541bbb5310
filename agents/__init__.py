"""Multi-agent PPO for traffic-signal control (shared policy, action masks, neighbourhood options).

Modules: ``config`` (TrainConfig), ``vec_env`` (SB3 VecEnv over simulations x intersections),
``networks`` (the shared MLP policy, centralised critic), ``warm_start`` (behaviour cloning of a
teacher), ``callbacks`` (TensorBoard, checkpoints, progress), ``runs`` (run folders, checkpoints),
``trainer`` (``train``), ``controller`` (a trained policy as an evaluation controller),
``export``/``runtime`` (ONNX for ops).
"""
