import TandemTensor
import TandemAutograd
import TandemData

/// SimGCL (Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for Recommendation",
/// SIGIR 2022): the two views add `ε`-scaled random unit noise, sign-aligned with each layer's output, instead of
/// changing the graph; the readout skips the ego layer, as in the paper.
public final class SimGCL: GraphRecallModel {
    public let propagation: GraphPropagation
    private var rng: RNG

    public init(graph: BipartiteGraph, dim: Int, config: GraphConfig, rng: inout RNG) {
        propagation = GraphPropagation(graph: graph, dim: dim, config: config, rng: &rng)
        self.rng = rng.split()
    }

    public func finalEmbeddings(_ tape: Tape) -> Variable {
        tape.memoized(self, "final") {
            propagation.readout(tape, propagation.propagate(tape, adjacency: propagation.layerAdjacency, noise: nil, rng: &rng),
                                skipEgo: true)
        }
    }

    public func viewLoss(_ tape: Tape, users: [Int32], items: [Int32]) -> Variable? {
        let adj = propagation.layerAdjacency, eps = propagation.config.noiseEps
        let v1 = propagation.readout(tape, propagation.propagate(tape, adjacency: adj, noise: eps, rng: &rng), skipEgo: true)
        let v2 = propagation.readout(tape, propagation.propagate(tape, adjacency: adj, noise: eps, rng: &rng), skipEgo: true)
        return propagation.contrast(tape, v1, v2, users: users, items: items)
    }

    /// The generator of the views' noise.
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) { state.set(prefix + "rng", rng) }
    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws { rng = try state.rng(prefix + "rng") }
}
