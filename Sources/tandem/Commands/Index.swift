import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Build and measure nearest-item indexes.",
                                                    subcommands: [Build.self, Measure.self, AddItems.self])

    /// Recall@10 against exact search and queries per second, printed for a built index.
    /// `count` rows of `rows` drawn without replacement (seed 1), in index order; every row when `count` is 0 or more.
    static func sample(_ rows: Tensor, count: Int) -> Tensor {
        guard count > 0, count < rows.rows else { return rows }
        var order = (0..<rows.rows).map { Int32($0) }
        var rng = RNG(seed: 1)
        rng.shuffle(&order)
        return rows.gatherRows(order.prefix(count).sorted())
    }

    static func report(_ index: VectorIndex, exact: ExactIndex, queries: Tensor, buildSeconds: Double, label: String) {
        let t0 = Date()
        let approx = index.search(queries, k: 10)
        let seconds = Date().timeIntervalSince(t0)
        let truth = exact.search(queries, k: 10)
        print(String(format: "%@: %d vectors × %d, built in %.2fs; recall@10 vs exact %.4f over %d queries; %.0f queries/s",
                     label, index.count, index.dimension, buildSeconds, recallAgainstExact(approx, truth, k: 10), queries.rows,
                     Double(queries.rows) / max(seconds, 1e-9)))
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Index a saved model's item embeddings (written next to the model) and report recall@10 against exact search, with the users as queries.")
        @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
        @Option(help: "Index description: Flat, or HNSW<M>[,efConstruction=N][,efSearch=N].") var factory = "HNSW32"
        @Option(help: "Users drawn at random (seeded) as the recall@10 queries; 0: every user (exact search of every user is slow past 10^5 items).")
        var recallQueries = 10_000

        func run() throws {
            let spec = reportingErrors { try IndexSpec(parsing: factory) }
            guard recallQueries >= 0 else { fail("--recall-queries must be ≥ 0 (0: every user)") }
            let (cfg, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
            guard !model.parameters.isEmpty else { fail("model '\(cfg.model.rawValue)' has no learned embeddings to index") }
            let metric: IndexMetric = cfg.objective.similarity == .cosine ? .cosine : .innerProduct
            // As scored (normalised for cosine models): the cosine metric normalises again, which changes nothing.
            if let reason = ModelStore.embeddingsTooLarge(model, dataset: ds) { fail("\(modelDir): \(reason)") }
        let (users, items) = ModelStore.scoredEmbeddings(model, config: cfg, dataset: ds)
            let t0 = Date()
            let index = reportingErrors { try spec.build(items, metric: metric) }
            let buildSeconds = Date().timeIntervalSince(t0)
            let path = modelDir + "/" + (spec.kind == .flat ? ModelFile.flatIndex : ModelFile.hnswIndex)
            reportingErrors { try index.save(to: path) }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            IndexCommand.report(index, exact: ExactIndex(items, metric: metric), queries: IndexCommand.sample(users, count: recallQueries),
                                buildSeconds: buildSeconds, label: spec.description)
            print("wrote \(path) (\(bytes / 1024) KiB)")
        }
    }

    struct AddItems: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-items",
            abstract: "Add items that were never trained on to a model directory, embedded from their features by its item tower (and inserted into its HNSW index); `tandem serve` answers with them after a reload.",
            discussion: "The feature file has an item_id column and one column per item feature the model reads (a RecBole .item file, or CSV/TSV); ids already in the catalogue are left as they are.")
        @Option(help: "Model directory written by `tandem train --output` (a two-tower model with item features).") var modelDir: String
        @Option(help: "Item feature file: item_id and the item tower's feature columns.") var itemFeatures: String

        func run() throws {
            let t0 = Date()
            let s = reportingErrors { try CatalogueAddition.add(featureFile: itemFeatures, to: modelDir) }
            print(String(format: "added %d item(s) to %@ (now %d items%@) in %.2fs", s.added, modelDir, s.items,
                         s.indexUpdated ? ", its HNSW index updated" : "", Date().timeIntervalSince(t0))
                  + (s.alreadyThere.isEmpty ? "" : "; \(s.alreadyThere.count) already in the catalogue, left as they are: "
                     + s.alreadyThere.prefix(5).joined(separator: ", ") + (s.alreadyThere.count > 5 ? ", …" : "")))
        }
    }

    struct Measure: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench",
            abstract: "Build an index over clustered random vectors; report build time, recall@10 against exact on held-out queries, queries/s.")
        @Option(help: "Number of item vectors.") var items = 100_000
        @Option(help: "Dimension.") var dim = 64
        @Option(help: "Number of queries.") var queries = 2000
        @Option(help: "Index description.") var factory = "HNSW32"
        @Option(help: "Similarity the index ranks by.") var metric: IndexMetric = .cosine

        func run() throws {
            let spec = reportingErrors { try IndexSpec(parsing: factory) }
            let m = metric
            var rng = RNG(seed: 7)
            let centers = rng.normalTensor(shape: [256, dim], std: 1)
            // Items and held-out queries from the same 256 clusters (queries are not in the index).
            func draw(_ n: Int) -> Tensor {
                var x = Tensor(zeros: [n, dim])
                for i in 0..<n { let c = rng.int(below: 256); for j in 0..<dim { x[i, j] = centers[c, j] + 0.5 * rng.normal() } }
                return x
            }
            let x = draw(items), q = draw(queries)
            let t0 = Date()
            let index = reportingErrors { try spec.build(x, metric: m) }
            IndexCommand.report(index, exact: ExactIndex(x, metric: m), queries: q, buildSeconds: Date().timeIntervalSince(t0), label: spec.description)
        }
    }
}
