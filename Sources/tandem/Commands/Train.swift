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

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model and evaluate it with full ranking (valid for early stopping, test at the end).",
        discussion: "Settings come from the model's tuned defaults, then --config, then flags. Example: tandem train --model mf --dataset ml-100k. "
            + "With --checkpoint DIR a run can be killed and continued: tandem train --resume DIR.")
    @Option(name: .long, help: "YAML file of settings (keys as the flags, in snake_case).") var config: String?
    @OptionGroup var flags: ConfigFlags
    @Flag(name: .long, help: "Print less (no per-epoch lines).") var quiet = false
    @Option(help: "Data-parallel training: auto (MPI when started by mpirun), mpi, or none.") var distributed: Distributed = .auto
    @Option(help: ArgumentHelp("Continue the run whose checkpoint is in this directory (written by --checkpoint): its settings, parameters, optimiser, generators and samplers, from the step it reached. Flags given too must agree with its settings.", valueName: "dir"))
    var resume: String?

    enum Distributed: String, ExpressibleByArgument, CaseIterable { case auto, mpi, none }

    func run() throws {
        let comm: Communicator = distributed == .none ? LocalCommunicator()
            : reportingErrors { try Launch.communicator(forceMPI: distributed == .mpi) }
        ranks = comm
        let resumed = resume.map { readCheckpoint($0) }
        let cfg = resumed?.config ?? resolveConfig(file: config, flags: flags)
        configureThreads(cfg.training.threads)
        // Every rank trains; rank 0 alone prints, writes the model directory and the results.
        let log: (String) -> Void = quiet || !comm.isRoot ? { _ in } : { print($0) }
        let ds = loadDataset(cfg, ranks: comm, log: log)
        if comm.isRoot {
            print("\(ds.name): \(ds.numUsers) users, \(ds.numItems) items, train/valid/test \(ds.split.train.count)/\(ds.split.valid.count)/\(ds.split.test.count)"
                  + (comm.size > 1 ? "; data-parallel on \(comm.size) ranks" : ""))
        }
        let trainer = reportingErrors { try Trainer(config: cfg, dataset: ds, communicator: comm, log: log) }
        if let resumed {
            guard trainer.model.trainsByGradient else { fail("--resume: \(cfg.model) is fitted in one solve, with no steps to resume") }
            trainer.resumeFrom = resumed
        }
        let output = comm.isRoot ? cfg.outputs.output : nil
        let report = reportingErrors {
            try trainer.run { model in
                if let output { try ModelStore.save(model, config: cfg, dataset: ds, to: output) }
            }
        }
        guard comm.isRoot else { return }
        reportingErrors {
            if let output, report.epochs.isEmpty || trainer.model.parameters.isEmpty {
                try ModelStore.save(trainer.model, config: cfg, dataset: ds, to: output)
            }
            if let output { try ModelStore.recordResults(report, in: output) }
            if let path = cfg.outputs.results { try report.writeJSON(to: path) }
        }
        print("")
        print(resultTable([(cfg.model.rawValue, [report])], ks: cfg.evaluation.ks))
        if let sampled = sampleSummary(report.test, ks: cfg.evaluation.ks) { print("test " + sampled) }
        print(String(format: "best epoch %d, %.1fs", report.bestEpoch, report.trainSeconds))
    }

    /// The checkpoint in `dir`, with this command's flags checked against its settings (they must agree: a resumed run
    /// trains what the killed one did); it goes on writing its checkpoint into `dir`.
    func readCheckpoint(_ dir: String) -> TrainingCheckpoint {
        if config != nil { fail("--resume \(dir) takes the run's settings from its checkpoint; --config cannot be given with it") }
        var c = reportingErrors { try TrainingCheckpoint.read(from: dir) }
        var given = c.config
        flags.apply(to: &given)
        let differ = reportingErrors { try TrainingCheckpoint.differences(c.config, given) }
        if !differ.isEmpty {
            fail("--resume \(dir): the checkpoint's run used other values of \(differ.joined(separator: ", ")) than this command gives; "
                 + "drop those flags to continue it, or start a new run")
        }
        c.config = given
        c.config.outputs.checkpoint = dir
        return c
    }
}

/// The dataset on every rank: rank 0 loads it first (fetching and converting it if missing), then the others read it.
func loadDataset(_ cfg: TrainConfig, ranks comm: Communicator, log: @escaping (String) -> Void) -> Dataset {
    if !comm.isRoot { reportingErrors { try comm.barrier() } }
    let ds = reportingErrors { try cfg.loadDataset(log: log) }
    if comm.isRoot { reportingErrors { try comm.barrier() } }
    return ds
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-bench",
        abstract: "Time training alone (no evaluation): examples/s per epoch, communication share under MPI, peak memory.",
        discussion: "Same settings as train. Under mpirun (MPI build) every rank trains its share; rank 0 prints. Example: tandem train-bench --model mf --dataset synthetic:users=100000,items=100000,interactions=10000000 --epochs 1")
    @OptionGroup var flags: ConfigFlags

    func run() throws {
        let comm = reportingErrors { try Launch.communicator() }
        ranks = comm
        let cfg = resolveConfig(file: nil, flags: flags)
        configureThreads(cfg.training.threads)
        let t0 = Date()
        let ds = loadDataset(cfg, ranks: comm, log: { _ in })
        let loading = Date().timeIntervalSince(t0)
        let trainer = reportingErrors { try Trainer(config: cfg, dataset: ds, communicator: comm, log: { _ in }) }
        let report = reportingErrors { try trainer.run(evaluating: false) }
        var peak = [Double(Benchmarks.peakResidentBytes())]
        reportingErrors { try comm.allreduceSum(&peak) }
        guard comm.isRoot else { return }
        print(String(format: "%@: %d training interactions; %d rank(s) × %d thread(s); loading %.1f s; peak RSS %.2f GiB (all ranks)",
                     ds.name, ds.split.train.count, comm.size, Parallel.cores, loading, peak[0] / 1_073_741_824))
        for e in report.epochs {
            print(String(format: "epoch %d: %.1f s, %.0f examples/s", e.epoch, e.seconds, e.examplesPerSecond)
                  + (e.communicationSeconds.map { String(format: ", %.1f%% of it in communication", 100 * $0 / e.seconds) } ?? ""))
        }
    }
}
