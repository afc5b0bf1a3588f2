"""Training: the loop, its run folder, scoring, and training across processes.

  checkpoints  Saver checkpoints found, checked and restored
  scoring      held-out scores in an inference copy of a graph
  kinds        how each kind of model reports its epochs and draws its pictures
  rundir       the run folder: run.json, history, mean image, lock, leftovers
  session      what one run and a cluster's run share: setup, total steps, the final line
  loop         the training loop of one process, resumable
  step_loop    K training steps per Session.run, in a tf.while_loop (--steps_per_run)
  cluster      one task of a ps/worker cluster on TensorFlow's gRPC runtime
  launcher     a whole cluster on this machine, one process per task
  seeds        one recipe trained under several seeds
"""
