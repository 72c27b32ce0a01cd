import TandemTensor
import TandemAutograd
import TandemData

/// LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation", SIGIR 2020).
///
/// Ego embeddings are propagated `K` times by the normalised adjacency, `E^{k+1} = Â E^k`, and read out as the layer
/// mean; no feature transforms, no non-linearities. The L2 penalty on the batch's ego rows is the paper's regulariser.
public final class LightGCN: GraphRecallModel {
    public let propagation: GraphPropagation

    public init(graph: BipartiteGraph, dim: Int, config: GraphConfig, rng: inout RNG) {
        propagation = GraphPropagation(graph: graph, dim: dim, config: config, rng: &rng)
    }

    public func finalEmbeddings(_ tape: Tape) -> Variable {
        tape.memoized(self, "final") { propagation.meanOfLayers(tape, views: propagation.layerAdjacency) }
    }

    /// Rows of the readout. Training on a large graph, a batch touches a sliver of the nodes, so the last of the K
    /// propagations is done for those rows only: `S[R] = E⁰[R] + Â[R,:]·T` with `T = Σ_{k<K} Âᵏ E⁰` (shared by every
    /// call on the tape), readout `S[R]/(K+1)`. Forward and backward then take 2(K−1) full sparse products instead of
    /// 2K. Small graphs, where a batch covers much of the graph, and evaluation use the full readout.
    public func finalRows(_ tape: Tape, _ rows: [Int32]) -> Variable {
        let k = propagation.config.layers
        guard tape.isTraining, k >= 1, rows.count * 8 <= propagation.graph.nodes else {
            return tape.gatherRows(finalEmbeddings(tape), rows)
        }
        let (egoVar, partial) = partialMean(tape)
        let sub = propagation.adjacency.selectingRows(rows, scaledBy: Float(k))  // K · mean of K−1 propagations = T
        let propagated = tape.sparseMatmul(sub, partial, transposed: sub.transposed())
        return tape.scale(tape.gatherRows(egoVar, rows) + propagated, 1 / Float(k + 1))
    }

    /// `E⁰` on the tape and the mean of its first K−1 propagations, `T / K` (the factor K is folded into the batch
    /// rows' adjacency, which is small, instead of a pass over every node), once per tape.
    private func partialMean(_ tape: Tape) -> (ego: Variable, partial: Variable) {
        let pair = tape.memoized(self, "partial mean") {
            let e = propagation.egoEmbeddings(tape)
            let k = propagation.config.layers
            let adjacency = propagation.adjacency
            return [e, k == 1 ? e : tape.propagationMean(adjacency, e, layers: k - 1, transposed: adjacency)]
        }
        return (pair[0], pair[1])
    }
}
