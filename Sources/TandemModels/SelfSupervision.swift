import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// How two views of one entity are made from its fields (Yao et al., CIKM 2021, "Self-supervised Learning for
/// Large-scale Item Recommendations"). A field is masked by zeroing its embedding for that row.
public enum FeatureAugmentation: String, Codable, Sendable, CaseIterable {
    /// Feature dropout: each view drops each field independently with probability `rate`.
    case fd
    /// Random feature masking: per row, a random half of the fields is masked in one view and the other half in the other.
    case rfm
    /// Correlated feature masking: per row, a random seed field and the fields that share the most mutual information
    /// with it are masked in one view, the rest in the other, so a view cannot read a masked field off a correlated one.
    case cfm
}

/// Two views of a batch of entities: per-row, per-field keep masks (1 keep, 0 masked), each `[n, fields]`.
public struct FieldMasks {
    public var first: Tensor
    public var second: Tensor
}

/// Draws the two views' field masks, and holds CFM's field groups (from mutual information in the data).
public struct FieldMasker: Sendable {
    public let kind: FeatureAugmentation
    public let fieldCount: Int
    /// Feature dropout's per-field drop probability.
    public let dropRate: Float
    /// CFM: for each seed field, the fields masked together with it (the seed first, then by mutual information,
    /// highest first; ties by field order), `⌊fields / 2⌋` in all.
    public let correlatedGroups: [[Int]]

    /// `mutualInformation[i][j]` between fields `i` and `j` (symmetric; only CFM reads it).
    public init(kind: FeatureAugmentation, fieldCount: Int, dropRate: Float, mutualInformation: [[Double]]) {
        precondition(fieldCount >= 2, "two views of one field are the same view")
        self.kind = kind; self.fieldCount = fieldCount; self.dropRate = dropRate
        let half = fieldCount / 2
        precondition(kind != .cfm || mutualInformation.count == fieldCount, "CFM needs the fields' mutual information")
        // Ranked by MI rounded to 1e-9 nats, ties by field order: equal informations computed along different paths
        // differ in their last bits, and that must not decide the groups.
        func rounded(_ x: Double) -> Double { (x * 1e9).rounded() }
        correlatedGroups = kind != .cfm ? [] : (0..<fieldCount).map { seed in
            let others = (0..<fieldCount).filter { $0 != seed }
                .sorted { (rounded(mutualInformation[seed][$0]), -$0) > (rounded(mutualInformation[seed][$1]), -$1) }
            return [seed] + others.prefix(half - 1)
        }
    }

    /// The two views' masks for `n` rows.
    public func masks(rows n: Int, rng: inout RNG) -> FieldMasks {
        let f = fieldCount
        var a = Tensor(repeating: 1, shape: [n, f]), b = Tensor(repeating: 1, shape: [n, f])
        for r in 0..<n {
            switch kind {
            case .fd:
                for k in 0..<f {
                    if rng.uniform() < dropRate { a.data[r * f + k] = 0 }
                    if rng.uniform() < dropRate { b.data[r * f + k] = 0 }
                }
            case .rfm, .cfm:
                let masked: [Int]
                if kind == .rfm {
                    var order = Array(0..<f)
                    rng.shuffle(&order)
                    masked = Array(order.prefix(f / 2))
                } else {
                    masked = correlatedGroups[rng.int(below: f)]
                }
                // Complementary: view one masks `masked`, view two masks the rest.
                for k in 0..<f { b.data[r * f + k] = 0 }
                for k in masked { a.data[r * f + k] = 0; b.data[r * f + k] = 1 }
            }
        }
        return FieldMasks(first: a, second: b)
    }
}

extension FieldMasker {
    /// Mutual information (nats) between every pair of a tower's fields, over its entities: each field is read as one
    /// discrete value per entity — the id itself, a category, a multi-hot field's set of categories, a numeric field's
    /// decile. Deterministic: it depends on the data only.
    public static func mutualInformation(fields: [FeatureField], entities: Int, includesId: Bool) -> [[Double]] {
        var columns: [[Int]] = []
        if includesId { columns.append(Array(0..<entities)) }
        for f in fields { columns.append(discreteValues(f, entities: entities)) }
        let k = columns.count
        var mi = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            for j in i..<k {
                let v = mutualInformation(columns[i], columns[j])
                mi[i][j] = v; mi[j][i] = v
            }
        }
        return mi
    }

    static func discreteValues(_ f: FeatureField, entities: Int) -> [Int] {
        switch f.kind {
        case .categorical:
            return f.categories.prefix(entities).map(Int.init)
        case .multiHot:
            var sets: [[Int32]: Int] = [:]
            return (0..<entities).map { e in
                let key = f.values[f.offsets[e]..<f.offsets[e + 1]].sorted()
                if let v = sets[key] { return v }
                sets[key] = sets.count
                return sets.count - 1
            }
        case .numeric:
            let sorted = f.numbers.prefix(entities).sorted()
            let cuts = (1..<10).map { sorted[min(sorted.count - 1, $0 * sorted.count / 10)] }
            return f.numbers.prefix(entities).map { x in cuts.reduce(0) { $0 + (x >= $1 ? 1 : 0) } }
        }
    }

    /// `I(X; Y) = Σ p(x, y) log(p(x, y) / (p(x) p(y)))` from paired samples.
    static func mutualInformation(_ x: [Int], _ y: [Int]) -> Double {
        let n = Double(x.count)
        guard n > 0 else { return 0 }
        var joint: [Int64: Int] = [:], px: [Int: Int] = [:], py: [Int: Int] = [:]
        for (a, b) in zip(x, y) {
            joint[Int64(a) << 32 | Int64(b), default: 0] += 1
            px[a, default: 0] += 1; py[b, default: 0] += 1
        }
        var total = 0.0
        for (key, c) in joint.sorted(by: { $0.key < $1.key }) {  // a fixed order: Swift's dictionary order varies by process
            let a = Int(key >> 32), b = Int(key & 0xFFFF_FFFF)
            let pxy = Double(c) / n
            total += pxy * Foundation.log(pxy * n * n / (Double(px[a]!) * Double(py[b]!)))
        }
        return max(0, total)
    }
}

/// Views of a user's behaviour history (CL4SRec, Xie et al., ICDE 2022): each view is either a crop — a contiguous
/// run of ⌈`crop` · n⌉ of the n (time-ordered) history items at a random start — or a mask that drops each item with
/// probability `mask` (at least one item stays), with equal odds. CL4SRec's third view, reordering, changes nothing
/// under mean pooling, so it is left out.
public struct HistoryAugmentation: Sendable, Equatable {
    public let crop: Float
    public let mask: Float

    public init(crop: Float, mask: Float) {
        precondition(crop > 0 && crop <= 1 && mask >= 0 && mask < 1, "history crop in (0, 1], mask in [0, 1)")
        self.crop = crop; self.mask = mask
    }

    /// One view of `history`.
    public func view(_ history: ArraySlice<Int32>, rng: inout RNG) -> [Int32] {
        let n = history.count
        guard n > 1 else { return Array(history) }
        if rng.uniform() < 0.5 {
            let length = max(1, Int((crop * Float(n)).rounded(.up)))
            let start = history.startIndex + rng.int(below: n - length + 1)
            return Array(history[start..<(start + length)])
        }
        let kept = history.filter { _ in rng.uniform() >= mask }
        return kept.isEmpty ? [history[history.startIndex + rng.int(below: n)]] : kept
    }
}

/// The self-supervised auxiliary loss of one tower (Yao et al. 2021): two views of the same entities, embedded by the
/// tower and L2-normalised, and in-batch InfoNCE between them (view one's row `i` should pick view two's row `i`),
/// times `weight`. Entities are drawn uniformly from the catalogue, not from the batch's positives, as in the paper:
/// the auxiliary task then reaches tail entities that the main loss rarely sees. The views mask fields (`fields`) or,
/// on the user tower, vary the behaviour history (`history`).
public struct SelfSupervisedTask {
    public enum Views {
        /// Two masked views of the tower's fields.
        case fields(FieldMasker)
        /// Two views of the behaviour history, the other fields kept and the id left out of both (a user is otherwise
        /// told apart by its id embedding alone, whatever its history says).
        case history(HistoryAugmentation)
    }
    public let views: Views
    public let entities: Int
    public let batchSize: Int
    public let temperature: Float
    public let weight: Float

    public init(views: Views, entities: Int, batchSize: Int, temperature: Float, weight: Float) {
        self.views = views; self.entities = entities; self.batchSize = batchSize
        self.temperature = temperature; self.weight = weight
    }

    /// Distinct entities drawn uniformly (all of them, shuffled, when the catalogue is smaller than a batch).
    public func drawEntities(_ rng: inout RNG) -> [Int32] {
        if batchSize >= entities {
            var all = (0..<entities).map { Int32($0) }
            rng.shuffle(&all)
            return all
        }
        var chosen = Set<Int32>(), out: [Int32] = []
        while out.count < batchSize {
            let e = Int32(rng.int(below: entities))
            if chosen.insert(e).inserted { out.append(e) }
        }
        return out
    }

    /// The weighted loss for `tower`, with entities and views drawn from the tape's generator.
    public func loss(_ tape: Tape, tower: Tower) -> Variable {
        let ids = drawEntities(&tape.rng)
        let a: Variable, b: Variable
        // The views compare what the features say about an entity, before any bias column.
        switch views {
        case .fields(let masker):
            let masks = masker.masks(rows: ids.count, rng: &tape.rng)
            a = tower.combine(tape, tower.fieldParts(tape, ids), fieldMask: masks.first)
            b = tower.combine(tape, tower.fieldParts(tape, ids), fieldMask: masks.second)
        case .history(let augmentation):
            let n = ids.count, f = tower.fieldCount
            var keep = Tensor(repeating: 1, shape: [n, f])
            if tower.idTable != nil { for r in 0..<n { keep.data[r * f] = 0 } }
            func view() -> Variable {
                tower.combine(tape, tower.fieldParts(tape, ids, historyView: { augmentation.view($0, rng: &tape.rng) }), fieldMask: keep)
            }
            a = view(); b = view()
        }
        return tape.scale(RetrievalLoss.inBatchSoftmax(tape, users: tape.l2Normalize(a), items: tape.l2Normalize(b), itemIds: ids,
                                                       temperature: temperature), weight)
    }
}
