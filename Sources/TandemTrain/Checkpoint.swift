import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// Where a gradient-trained run stands between two steps, as the trainer itself keeps it: the epoch in progress,
/// early stopping, and the epochs so far. With every component's `TrainingState` it makes a checkpoint.
public struct TrainingProgress: Codable, Sendable {
    /// Epochs finished.
    public var completedEpochs = 0
    /// Training rows of the next epoch already stepped over (0: it has not begun).
    public var rowsDone = 0
    /// The next epoch's loss sum, batch count and seconds so far.
    public var lossSum = 0.0, batches = 0, epochSeconds = 0.0
    /// The best validation value so far (nil: none yet), its epoch, and evaluations since.
    public var best: Double? = nil
    public var bestEpoch = 0, sinceBest = 0
    public var epochs: [EpochSummary] = []
    /// True once the run has ended (its last epoch, or early stopping): a resumed finished run only evaluates.
    public var finished = false

    public init() {}
}

/// A resumable checkpoint: one safetensors file (`checkpoint.safetensors` in the run's checkpoint directory) holding
/// the parameters, the best epoch's parameters, the optimiser's moments, the generators, the model's and the sampler's
/// state, and — in its metadata — the run's settings and `TrainingProgress`. Written whole to a temporary file and
/// renamed, so a kill at any moment leaves the previous checkpoint or the new one, never a mix.
public struct TrainingCheckpoint: Sendable {
    public static let fileName = "checkpoint.safetensors"
    static let format = "tandem-checkpoint-1"

    public var config: TrainConfig
    public var progress: TrainingProgress
    public var state: TrainingState

    public init(config: TrainConfig, progress: TrainingProgress, state: TrainingState) {
        self.config = config; self.progress = progress; self.state = state
    }

    public static func path(in directory: String) -> String { (directory as NSString).appendingPathComponent(fileName) }

    /// Writes the checkpoint into `directory` (created if missing), replacing the previous one atomically.
    public func write(to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: directory, "cannot create the checkpoint directory: \(error.localizedDescription)")
        }
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let metadata = ["format": Self.format, "config": String(decoding: try e.encode(config), as: UTF8.self),
                        "progress": String(decoding: try e.encode(progress), as: UTF8.self)]
        let data = try SafeTensors.encode(state.tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                          ints: state.ints.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: metadata)
        try AtomicFile.write(data, to: Self.path(in: directory))
    }

    /// Reads the checkpoint in `directory`; a missing or foreign file is an error naming it.
    public static func read(from directory: String) throws -> TrainingCheckpoint {
        let file = path(in: directory)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw DataError(file: file, "no checkpoint here (a run writes one when given --checkpoint DIR)")
        }
        let meta = try SafeTensors.decodeMetadata(data, file: file)
        guard meta["format"] == format, let config = meta["config"], let progress = meta["progress"] else {
            throw DataError(file: file, "not a Tandem checkpoint (format \(meta["format"] ?? "missing"), expected \(format))")
        }
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return TrainingCheckpoint(config: try d.decode(TrainConfig.self, from: Data(config.utf8)),
                                      progress: try d.decode(TrainingProgress.self, from: Data(progress.utf8)),
                                      state: TrainingState(tensors: try SafeTensors.decode(data, file: file),
                                                           ints: try SafeTensors.decodeInts(data, file: file)))
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(file: file, "unreadable checkpoint metadata: \(error)")
        }
    }

    /// The keys whose values differ between two configs, leaving out those that do not change what is trained
    /// (outputs, threads): a resumed run must train what the checkpoint's run trained.
    public static func differences(_ a: TrainConfig, _ b: TrainConfig) throws -> [String] {
        func flat(_ c: TrainConfig) throws -> [String: String] {
            var c = c
            c.outputs = OutputSettings(); c.training.threads = nil
            let e = JSONEncoder()
            e.keyEncodingStrategy = .convertToSnakeCase
            e.outputFormatting = .sortedKeys
            let object = try JSONSerialization.jsonObject(with: e.encode(c)) as? [String: Any] ?? [:]
            return object.mapValues { v in
                (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "\(v)"
            }
        }
        let x = try flat(a), y = try flat(b)
        return Set(x.keys).union(y.keys).filter { x[$0] != y[$0] }.sorted()
    }
}

/// When a run writes its checkpoint: after every `every` epochs, and between steps once `minutes` have passed since the
/// last write (0: never between steps).
struct CheckpointSchedule {
    let directory: String
    let every: Int
    let minutes: Double
    private(set) var lastWrite = Date()

    init?(_ outputs: OutputSettings) {
        guard let dir = outputs.checkpoint else { return nil }
        directory = dir; every = outputs.checkpointEvery; minutes = outputs.checkpointMinutes
    }

    /// Between steps: whether the time since the last write has reached `minutes`.
    var dueBetweenSteps: Bool { minutes > 0 && Date().timeIntervalSince(lastWrite) >= minutes * 60 }

    mutating func wrote() { lastWrite = Date() }
}
