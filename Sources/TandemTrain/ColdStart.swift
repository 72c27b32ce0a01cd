import TandemTensor
import TandemData
import TandemEval
import TandemModels

/// Item cold start: ranks only the held-out items (`Dataset.coldItems`) for each user, against the user's interactions
/// with them (`Dataset.coldTest`), after the model has forgotten what the items' own rows hold (they were never
/// trained on; what an unseen id contributes is nothing). Two references come with it: random ranking (expected
/// Recall@K = K / cold items, computed exactly) and feature popularity (each cold item scored by the mean training
/// count of warm items sharing each of its feature values, the same list for every user).
public struct ColdStartEvaluation: Sendable {
    /// The cold items: column j of the cold ranking is item `items[j]`. Ties (a model that scores every unseen item
    /// alike, items with identical features) fall in a per-user random order (`randomTieBreaking`), not in item-index
    /// order, which follows first appearance in the data file and so popularity.
    public let items: [Int32]
    public let evaluator: FullRankingEvaluator
    /// Feature-popularity score per cold item; nil when the dataset has no item features.
    public let featurePopularity: [Float]?

    public init?(_ ds: Dataset, ks: [Int]) {
        guard let cold = ds.coldItems, let held = ds.coldTest else { return nil }
        let order = cold.indices.filter { cold[$0] }.map { Int32($0) }
        items = order
        var column = [Int32](repeating: -1, count: ds.numItems)
        for (j, i) in items.enumerated() { column[Int(i)] = Int32(j) }
        let truth = Interactions(users: held.users, items: held.items.map { column[Int($0)] })
        var evaluator = FullRankingEvaluator(ks: ks, excluded: CSRMatrix(rows: ds.numUsers, cols: items.count, coordinates: []),
                                             truth: truth.matrix(users: ds.numUsers, items: items.count))
        evaluator.randomTieBreaking = true
        self.evaluator = evaluator
        featurePopularity = ds.itemFeatures.map { features in
            let all = Self.featurePopularity(features, counts: ds.split.train.itemCounts(items: ds.numItems), cold: cold)
            return order.map { all[Int($0)] }
        }
    }

    /// Per item, the mean over its categorical and multi-hot field values of the mean training count of the warm items
    /// holding that value (0 for a value no warm item holds; numeric fields are skipped).
    static func featurePopularity(_ features: FeatureSet, counts: [Int], cold: [Bool]) -> [Float] {
        let n = counts.count
        var total = [Float](repeating: 0, count: n), parts = [Float](repeating: 0, count: n)
        for f in features.fields where f.kind != .numeric {
            func valuesOf(_ i: Int) -> [Int32] {
                f.kind == .categorical ? (f.categories[i] == 0 ? [] : [f.categories[i]]) : Array(f.values[f.offsets[i]..<f.offsets[i + 1]])
            }
            var sum = [Double](repeating: 0, count: f.cardinality), holders = [Double](repeating: 0, count: f.cardinality)
            for i in 0..<n where !cold[i] { for v in valuesOf(i) { sum[Int(v)] += Double(counts[i]); holders[Int(v)] += 1 } }
            for i in 0..<n {
                for v in valuesOf(i) {
                    total[i] += holders[Int(v)] > 0 ? Float(sum[Int(v)] / holders[Int(v)]) : 0
                    parts[i] += 1
                }
            }
        }
        return zip(total, parts).map { $1 > 0 ? $0 / $1 : 0 }
    }

    /// The model's metrics on the cold items (`recall@K/cold_items`, …) and the references' (`…/cold_random`,
    /// `…/cold_feature_pop`). Forgets the cold items' own rows first.
    public func evaluate(_ model: RetrievalModel, users: Int, items allItems: Int, normalize: Bool) -> [String: Double] {
        model.forgetItems(items)
        let u = model.allEmbeddings(users: true, count: users, normalize: normalize)
        let v = model.allEmbeddings(users: false, count: allItems, normalize: normalize)
        var out: [String: Double] = [:]
        for (k, value) in evaluator.evaluate(users: u, items: v.gatherRows(items)) where k != "users" { out["\(k)/cold_items"] = value }
        for k in evaluator.ks { out["recall@\(k)/cold_random"] = min(1, Double(k) / Double(items.count)) }
        if let featurePopularity {
            let scores = Tensor(shape: [items.count, 1], data: featurePopularity)
            let ones = Tensor(shape: [users, 1], data: [Float](repeating: 1, count: users))
            for (k, value) in evaluator.evaluate(users: ones, items: scores) where k.hasPrefix("recall@") || k.hasPrefix("ndcg@") {
                out["\(k)/cold_feature_pop"] = value
            }
        }
        return out
    }
}
