"""Multi-agent PPO for traffic-signal control (shared policy, action masks, neighbourhood options).

Modules: ``config`` (TrainConfig), ``vec_env`` (SB3 VecEnv over simulations x intersections),
``policies`` (shared MLP, centralised critic), ``callbacks`` (TensorBoard, checkpoints),
``runs`` (run folders, atomic files), ``trainer`` (``train``), ``policy`` (a trained policy as a
controller), ``export``/``runtime`` (ONNX for ops).
"""
