import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// A model that scores a user as `x_u W`: the user's training items times a dense item–item weight matrix (EASE).
///
/// As a `RetrievalModel`: the user embedding is the user's training row (one column per item) and item `j`'s embedding
/// is column `j` of `W`, so the evaluator's inner products are exactly `X W`. Both are as wide as the catalogue: fine
/// for exact full ranking and a Flat index, not an embedding an ANN index could serve at scale. The weights come from a
/// closed form (`fit`), not gradient steps.
public protocol ItemToItemModel: RetrievalModel {
    /// Training interactions, users × items.
    var train: CSRMatrix { get }
    /// Row `j` is column `j` of `W` (item `j`'s weights from every item).
    var itemWeights: Parameter { get }
}

extension ItemToItemModel {
    public var parameters: [Parameter] { [itemWeights] }
    public var trainsByGradient: Bool { false }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(trainRows(ids)) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(itemWeights.value.gatherRows(ids)) }

    /// Scores are `X W` as they are: normalising either side would change the ranking.
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        users ? trainRows((0..<Int32(count)).map { $0 }) : itemWeights.value
    }

    /// Users' training rows as dense 0/1 vectors.
    func trainRows(_ ids: [Int32]) -> Tensor { train.denseRows(ids) }

    /// `XᵀX`, counted from each user's item pairs (exact integers in Float64), row-major items × items.
    func cooccurrence() -> [Double] {
        let n = train.cols
        var g = [Double](repeating: 0, count: n * n)
        g.withUnsafeMutableBufferPointer { p in
            for u in 0..<train.rows {
                let row = train.columns(ofRow: u)
                for i in row { let base = Int(i) * n; for j in row { p[base + Int(j)] += 1 } }
            }
        }
        return g
    }
}

/// Refuses a catalogue whose item × item matrices (`bytesPerEntry` each) would not fit, naming its size.
func checkItemMatricesFit(items: Int, bytesPerEntry: Double, model: String) throws {
    let bytes = Double(items) * Double(items) * bytesPerEntry
    let memory = Double(ProcessInfo.processInfo.physicalMemory)
    guard bytes < memory * 0.6 else {
        throw ConfigError(String(format: "%@ needs %d × %d item matrices (%.1f GB) but this machine has %.1f GB: use a k-core filter (item_core) to shrink the catalogue, or an embedding model",
                                 model, items, items, bytes / 1e9, memory / 1e9))
    }
}
