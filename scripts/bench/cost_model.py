#!/usr/bin/env python3
"""α–β cost model of a data-parallel MF step (in-batch softmax with cross-rank negatives), from measured figures.

Per step and rank (global batch B, embedding width d, N ranks, M = B·d·4 bytes):
  compute   t_c = (B/N)·B·d·6 / F        the logits (forward and both backward products) dominate a step;
                                         F is fitted from the one-process step time
  transfers ring collectives: allgatherv of the item rows (M in all), allreduce of their gradient (M), allgatherv of
            the sparse gradient rows (about 2M: each rank's user and item rows):
            t_β = (N−1)/N · (1 + 2 + 2) · M · β
  latency   those 3 large calls (ring: (N−1)·α each, the allreduce 2(N−1)·α) plus 6 small ones (counts, ids, the loss;
            recursive doubling: log2 N · α each): t_α = 4(N−1)·α + 6·log2(N)·α
Nothing overlaps computation with communication, so t_step = t_c + t_α + t_β and efficiency = t_c(1)/N / t_step.

Usage: python3 scripts/bench/cost_model.py   (the measured inputs are the constants below; docs/DISTRIBUTED.md says where
each comes from)
"""
import math

# Measured on the 2-core development VM (scripts/bench/bench_mpi.sh, 2026-12-01): MF 256-d, B 1024, 8,084,340 examples.
MEASURED_B, D = 1024, 256
ONE_RANK_EPOCH_S, EXAMPLES = 154.2, 8_084_340          # 1 process × 1 thread
TWO_RANK_EPOCH_S, TWO_RANK_COMM_SHARE = 99.0, 0.071     # 2 ranks × 1 thread
ALPHA_LOCAL, BETA_LOCAL = 1.2e-6 / 2, 0.209e-9          # allreduce fit at 2 ranks: α_fit = 2α (ring), β per byte

def step_time(n, b, d, flops, alpha, beta):
    m = b * d * 4
    compute = (b / n) * b * d * 6 / flops
    latency = (4 * (n - 1) + 6 * math.log2(n)) * alpha if n > 1 else 0.0
    transfer = (n - 1) / n * 5 * m * beta
    return compute, latency, transfer

steps = EXAMPLES / MEASURED_B
one_step = ONE_RANK_EPOCH_S / steps
flops = MEASURED_B * MEASURED_B * D * 6 / one_step
print(f"fitted from one process: {one_step * 1e3:.1f} ms per step at B {MEASURED_B}, d {D} → F = {flops / 1e9:.1f} GFLOP/s")

c, a, t = step_time(2, MEASURED_B, D, flops, ALPHA_LOCAL, BETA_LOCAL)
measured = TWO_RANK_EPOCH_S / steps
print(f"2 ranks, shared memory: model {1e3 * (c + a + t):.2f} ms per step (compute {1e3 * c:.2f}, communication {1e3 * (a + t):.2f}); "
      f"measured {1e3 * measured:.2f} ms (communication {1e3 * measured * TWO_RANK_COMM_SHARE:.2f}, waiting for the other rank included)")

# The projected job: 100M interactions (80M trained per epoch), 10M items, MF 256-d, global batch 8192 split over the
# ranks (each row keeps 8191 in-batch negatives), 25 Gb/s Ethernet (β = 0.32 ns/byte) with α = 10 µs per message
# (TCP; RDMA would be a few µs).
B, ALPHA_NET, BETA_NET, EXAMPLES_BIG = 8192, 10e-6, 8 / 25e9, 80_000_000
print(f"\nprojection: global batch {B}, d {D}, α {ALPHA_NET * 1e6:.0f} µs, β {BETA_NET * 1e9:.2f} ns/byte (25 Gb/s)")
print("ranks  step ms  compute  latency  transfer  efficiency  epoch min")
single = step_time(1, B, D, flops, ALPHA_NET, BETA_NET)[0]
for n in [1, 8, 32, 128]:
    c, a, t = step_time(n, B, D, flops, ALPHA_NET, BETA_NET)
    total = c + a + t
    print(f"{n:5d}  {1e3 * total:7.1f}  {1e3 * c:7.1f}  {1e3 * a:7.2f}  {1e3 * t:8.2f}  {single / n / total:9.0%}  "
          f"{EXAMPLES_BIG / B * total / 60:9.1f}")
