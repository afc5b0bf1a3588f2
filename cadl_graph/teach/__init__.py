"""Teaching from the graphs: every op explained by what made it, and drawn.

  renames    how TensorFlow renamed the ops the lecture printed (Out[48])
  explain    a graph's ops grouped by what made them; what freezing kept and removed
  out48      Out[48]'s graph replayed cell by cell, and its page
  lessons    measured lessons (the course's batch-norm flaw)
  picture    a graph as boxes of those groups and arrows, before layout (plain data)
  drawing    its layered layout (igraph's Sugiyama) drawn as SVG or PNG (matplotlib)
  pages      a generated page per registry graph, with its pictures and notes
"""
