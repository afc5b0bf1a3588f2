"""The whole lecture, end to end: its cells run in order, then its report.

  job      the cells: data, the seven trainings, inspection, checkpoints, protobuf, C++
  report   REPORT.md from the results
"""
