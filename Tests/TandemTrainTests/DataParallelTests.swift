import Foundation
import Testing
import TandemData
import TandemDistributed
import TandemTrain
import TandemTestSupport

/// Data-parallel training on ranks that are threads (`ThreadCommunicator`) equals one process at the same global batch,
/// up to float summation order: the same step, with each rank's share, gathered columns and summed gradients. The
/// same checks run over MPI in scripts/checks/check_mpi.sh.
@Suite struct DataParallelTests {
    /// Small enough that the 7 settings × (1 process + 2 ranks) train in seconds; several batches per epoch.
    static let data = SyntheticData(SyntheticConfig(users: 120, items: 60, interactions: 2500, clusters: 3, seed: 4)).dataset()

    func config(_ edit: (inout TrainConfig) -> Void) -> TrainConfig {
        var c = TrainConfig.defaults(for: .mf)
        c.embeddingDim = 16; c.training.epochs = 2; c.training.batchSize = 128; c.evaluation.ks = [10, 20]
        edit(&c)
        return c
    }

    static let settings: [String: @Sendable (inout TrainConfig) -> Void] = [
        "mf": { _ in },
        "mixed": { $0.objective.negativeSampling = .mixed; $0.objective.sampledNegatives = 64 },
        "mf+item_bias": { $0.twoTower.itemBias = true; $0.objective.negativeSampling = .mixed; $0.objective.sampledNegatives = 64 },
        "bpr": { $0.objective.loss = .bpr; $0.objective.similarity = .dot; $0.objective.temperature = 1 },
        "moco": { $0.moco.queueSize = 256 },
        "two-tower+ssl": { c in
            let tt = TrainConfig.defaults(for: .twoTower)
            c.model = .twoTower; c.twoTower = tt.twoTower; c.twoTower.ssl = .both
        },
        "lightgcn": { c in
            let g = TrainConfig.defaults(for: .lightgcn)
            c.model = .lightgcn; c.graph = g.graph
        },
    ]

    /// Per-epoch losses within 1e-5 relative, test metrics within 1e-4, on 2 ranks against one process.
    @Test(arguments: settings.keys.sorted()) func twoRanksEqualOneProcess(name: String) throws {
        let cfg = config(Self.settings[name]!)
        let alone = try Trainer(config: cfg, dataset: Self.data, log: { _ in }).run()
        let ranks = try Fixtures.onRanks(2) { comm in
            try Trainer(config: cfg, dataset: Self.data, communicator: comm, log: { _ in }).run()
        }
        for report in ranks {
            #expect(report.epochs.count == alone.epochs.count)
            for (a, b) in zip(alone.epochs, report.epochs) {
                #expect(abs(a.loss - b.loss) <= 1e-5 * abs(a.loss), "\(name) epoch \(a.epoch): loss \(b.loss) on 2 ranks, \(a.loss) alone")
            }
            for key in ["ndcg@20", "recall@20"] {
                #expect(abs(alone.test[key]! - report.test[key]!) < 1e-4, "\(name) \(key): \(report.test[key]!) vs \(alone.test[key]!)")
            }
        }
    }

    /// What cannot train on a share of the batch is refused on every rank, in one message naming each cause.
    @Test func prototypesAndQueueCompensationAreRefused() throws {
        let cfg = config { $0.model = .twoTower; $0.concat.prototypes = 8; $0.moco.queueSize = 64; $0.moco.queueCompensation = true }
        let messages = try Fixtures.onRanks(2) { comm -> String in
            do { _ = try Trainer(config: cfg, dataset: Self.data, communicator: comm, log: { _ in }); return "accepted" } catch {
                return "\(error)"
            }
        }
        for m in messages {
            #expect(m.contains("data-parallel training does not support") && m.contains("queue_compensation") && m.contains("ConCAT prototypes"), "\(m)")
        }
        for (edit, cause) in [({ (c: inout TrainConfig) in c.objective.hardNegatives = 2 }, "hard-negative mining"),
                              ({ (c: inout TrainConfig) in c.objective.loss = .directau }, "loss directau"),
                              ({ (c: inout TrainConfig) in c.objective.itemConstraintWeight = 1 }, "item_constraint_weight")] {
            let cfg = config(edit)
            let refused = try Fixtures.onRanks(2) { comm -> String in
                do { _ = try Trainer(config: cfg, dataset: Self.data, communicator: comm, log: { _ in }); return "accepted" } catch {
                    return "\(error)"
                }
            }
            #expect(refused.allSatisfy { $0.contains("does not support") && $0.contains(cause) }, "\(refused)")
        }
    }
}
