import TandemTensor
import TandemAutograd
import TandemData

/// XSimGCL (Yu et al., "XSimGCL: Towards Extremely Simple Graph Contrastive Learning for Recommendation", TKDE 2023):
/// one perturbed propagation feeds both the main loss and the view loss, which contrasts layer `cl_layer`'s output with
/// the final readout.
public final class XSimGCL: GraphRecallModel {
    public let propagation: GraphPropagation
    private var rng: RNG

    public init(graph: BipartiteGraph, dim: Int, config: GraphConfig, rng: inout RNG) {
        propagation = GraphPropagation(graph: graph, dim: dim, config: config, rng: &rng)
        self.rng = rng.split()
    }

    /// The readout, and in training the contrasted layer, from one (perturbed, in training) pass per tape.
    private func pass(_ tape: Tape) -> [Variable] {
        tape.memoized(self, "pass") {
            let noise = tape.isTraining ? propagation.config.noiseEps : nil
            let layers = propagation.propagate(tape, adjacency: propagation.layerAdjacency, noise: noise, rng: &rng)
            return [propagation.readout(tape, layers, skipEgo: true), layers[propagation.config.clLayer]]
        }
    }

    public func finalEmbeddings(_ tape: Tape) -> Variable { pass(tape)[0] }

    public func viewLoss(_ tape: Tape, users: [Int32], items: [Int32]) -> Variable? {
        guard tape.isTraining else { return nil }
        let p = pass(tape)
        return propagation.contrast(tape, p[0], p[1], users: users, items: items)
    }

    /// The generator of the views' noise.
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) { state.set(prefix + "rng", rng) }
    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws { rng = try state.rng(prefix + "rng") }
}
