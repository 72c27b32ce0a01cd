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

@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Train, evaluate and export contrastive retrieval models for recommender systems.",
        version: tandemVersion,
        subcommands: [Train.self, TrainBench.self, CommBench.self, Compare.self, Eval.self, Export.self, DataCommand.self, ReportCommand.self, IndexCommand.self, Serve.self,
                      Serve.Fuzz.self, CascadeCommand.self, Bench.self, Tune.self]
    )

    static func main() async {
        BLAS.restartWithTheCPUsKernels()
        Memory.lineBufferStandardOutput()
        Memory.reuseFreedMemory()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints to standard error and exits non-zero with a message a person can act on.
func fail(_ message: String) -> Never {
    // One failed rank must stop the whole job (the others would wait in their next collective call).
    if let comm = ranks, comm.size > 1 { comm.abort("error: \(message)", code: 1) }
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// The ranks of a data-parallel run, once `tandem train` has joined them.
nonisolated(unsafe) var ranks: Communicator?

/// Runs `body`, turning Tandem's own errors into one clear line and a non-zero exit.
func reportingErrors<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch let e as DataError { fail(e.description) } catch let e as ConfigError { fail(e.description) } catch let e as NonFiniteLossError {
        fail(e.description)
    } catch { fail("\(error)") }
}

func configureThreads(_ n: Int?) {
    if let n { Parallel.cores = max(1, n) }
}

/// A run's config: the model's defaults (`model`, else the flags' or the file's), its preset, the YAML file `file`, the
/// typed flags, then `edit`; a bad file or value ends the run with one line.
func resolveConfig(file: String?, flags: ConfigFlags, model: ModelKind? = nil, edit: (inout TrainConfig) -> Void = { _ in }) -> TrainConfig {
    reportingErrors {
        let yaml = try file.map { path -> String in
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch { throw ConfigError("\(path): cannot read config file") }
        }
        return try TrainConfig.resolve(yaml: yaml, yamlFile: file ?? "config", model: model ?? flags.model, preset: flags.preset) { c in
            flags.apply(to: &c)
            edit(&c)
        }
    }
}

