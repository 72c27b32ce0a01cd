import Foundation
import Testing
import TandemTensor
import TandemData
import TandemDistributed
@testable import TandemTrain
import TandemTestSupport

/// A run stopped at a checkpoint and resumed ends exactly where the uninterrupted run does: the same parameters bit for
/// bit, the same epochs, the same metrics.
@Suite struct ResumeTests {
    static let data = Fixtures.plantedClusters()

    static func config(_ overrides: [String: String]) throws -> TrainConfig {
        try TrainConfig.resolve(overrides: ["epochs": "3", "batch_size": "256", "embedding_dim": "16", "learning_rate": "0.01"]
                                .merging(overrides) { $1 })
    }

    /// Trains `config` once with a checkpoint after every step, copying aside the first checkpoint whose progress
    /// satisfies `stopAt` (what a kill right after it would leave); then resumes from the copy. Returns both runs'
    /// reports, whether their final parameters are identical, and where the copy stood.
    static func runAndResume(_ config: TrainConfig, ranks: Int = 1, stopAt: @escaping @Sendable (TrainingProgress) -> Bool)
        throws -> (whole: RunReport, resumed: RunReport, same: Bool, progress: TrainingProgress) {
        let dir = Fixtures.temporaryPath("ckpt"), kept = Fixtures.temporaryPath("ckpt-kept")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: kept) }
        var c = config
        c.outputs.checkpoint = dir
        c.outputs.checkpointMinutes = 1e-9
        let cfg = c
        let first = try Fixtures.onRanks(ranks) { comm -> (RunReport, [Tensor]) in
            let trainer = try Trainer(config: cfg, dataset: data, communicator: comm, log: { _ in })
            trainer.afterCheckpoint = { p in
                if stopAt(p) && !FileManager.default.fileExists(atPath: kept) { try FileManager.default.copyItem(atPath: dir, toPath: kept) }
            }
            return (try trainer.run(), trainer.trainedParameters.map(\.value))
        }
        let checkpoint = try TrainingCheckpoint.read(from: kept)
        let second = try Fixtures.onRanks(ranks) { comm -> (RunReport, [Tensor]) in
            let trainer = try Trainer(config: cfg, dataset: data, communicator: comm, log: { _ in })
            trainer.resumeFrom = checkpoint
            return (try trainer.run(), trainer.trainedParameters.map(\.value))
        }
        let same = zip(first, second).allSatisfy { a, b in zip(a.1, b.1).allSatisfy { $0.data == $1.data } }
        return (first[0].0, second[0].0, same, checkpoint.progress)
    }

    static func expectSameRun(_ a: RunReport, _ b: RunReport, _ label: String) {
        #expect(a.bestEpoch == b.bestEpoch, "\(label)")
        #expect(a.epochs.map(\.loss) == b.epochs.map(\.loss), "\(label): losses \(a.epochs.map(\.loss)) vs \(b.epochs.map(\.loss))")
        #expect(a.epochs.map(\.valid) == b.epochs.map(\.valid), "\(label)")
        #expect(a.test == b.test, "\(label)")
    }

    /// Stopped mid-epoch (step 5 of the second epoch) and resumed: every component's state comes back — Adam's moments, the
    /// shuffle, dropout and augmentation generators, MoCo's queue and momentum copy, the mined ranking.
    @Test(arguments: [
        ["model": "mf"],
        ["model": "mf", "optimizer": "adagrad", "negative_sampling": "mixed", "sampled_negatives": "32"],
        ["model": "mf", "queue_size": "512"],
        ["model": "mf", "hard_negatives": "2", "hard_negative_ranks": "[3, 20]", "hard_negative_refresh": "7"],
        ["model": "mf", "hard_negatives": "2", "hard_negative_mining": "dns", "hard_negative_refresh": "7"],
        ["model": "two-tower", "ssl_weight": "0.1", "dropout": "0.1"],
        ["model": "sgl"], ["model": "simgcl"], ["model": "xsimgcl"],
    ])
    func resumedMidEpochEqualsUninterrupted(_ overrides: [String: String]) throws {
        let label = overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let r = try Self.runAndResume(try Self.config(overrides)) { $0.completedEpochs == 1 && $0.batches == 5 }
        #expect(r.progress.rowsDone > 0 && r.progress.completedEpochs == 1, "\(label): stopped at \(r.progress)")
        #expect(r.same, "\(label): parameters differ after resuming")
        Self.expectSameRun(r.whole, r.resumed, label)
    }

    /// Stopped at an epoch's end, and resumed after the run had ended (it only evaluates the best epoch again).
    @Test func resumedAtEpochEndAndAfterTheEnd() throws {
        let c = try Self.config(["model": "mf"])
        let boundary = try Self.runAndResume(c) { $0.completedEpochs == 1 && $0.rowsDone == 0 }
        #expect(boundary.progress.completedEpochs == 1 && boundary.progress.rowsDone == 0, "\(boundary.progress)")
        #expect(boundary.same)
        Self.expectSameRun(boundary.whole, boundary.resumed, "epoch end")
        let ended = try Self.runAndResume(c) { $0.finished }
        #expect(ended.progress.finished && ended.progress.completedEpochs == 3, "\(ended.progress)")
        #expect(ended.same)
        Self.expectSameRun(ended.whole, ended.resumed, "after the end")
    }

    /// Two ranks (threads) stopped mid-epoch resume from rank 0's checkpoint and end where the uninterrupted pair does.
    @Test func dataParallelResumeEqualsUninterrupted() throws {
        let r = try Self.runAndResume(try Self.config(["model": "mf"]), ranks: 2) { $0.completedEpochs == 1 && $0.batches == 5 }
        #expect(r.progress.rowsDone > 0)
        #expect(r.same)
        Self.expectSameRun(r.whole, r.resumed, "2 ranks")
    }

    /// A checkpoint is refused by a run with other settings, naming the keys; a directory without one names the file.
    @Test func foreignCheckpointsAreRefused() throws {
        let dir = Fixtures.temporaryPath("ckpt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = try Self.config(["model": "mf", "epochs": "1"])
        c.outputs.checkpoint = dir
        _ = try Trainer(config: c, dataset: Self.data, log: { _ in }).run()
        var other = c
        other.training.learningRate = 0.02
        let trainer = try Trainer(config: other, dataset: Self.data, log: { _ in })
        trainer.resumeFrom = try TrainingCheckpoint.read(from: dir)
        #expect { _ = try trainer.run() } throws: { "\($0)".contains("learning_rate") }
        #expect(try TrainingCheckpoint.differences(c, other) == ["learning_rate"])
        #expect { _ = try TrainingCheckpoint.read(from: dir + "-missing") } throws: { "\($0)".contains("no checkpoint here") }
    }
}
