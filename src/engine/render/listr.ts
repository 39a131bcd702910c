/**
 * Terminal progress with listr2: play → host → task, with timings. The engine does not run
 * inside listr; each listr task just waits for the engine's events about it, so what is shown is
 * exactly what the events say (and the same events feed the run log and --json).
 */
import { color, DefaultRenderer, Listr, ListrLogger, ProcessOutput, type ListrTask, type ListrTaskWrapper } from 'listr2';
import { formatFailure } from '../errors.js';
import type {
  EventSink,
  HandlerFinishEvent,
  HandlersStartEvent,
  HostFinishEvent,
  HostTasksEvent,
  PlayStartEvent,
  RunEvent,
  TaskFinishEvent,
} from '../events.js';
import { formatDuration, formatLeftBehind, formatOutcome, formatRecap, formatStop, PlanCollector } from './format.js';
import type { Renderer } from './renderer.js';

export interface TerminalStreams {
  stdout: NodeJS.WriteStream;
  /** Must be a different stream from stdout: listr2 holds both back while it draws. */
  stderr: NodeJS.WriteStream;
}

/**
 * listr2's default renderer redraws the whole tree on every state change; with 20 hosts × dozens
 * of tasks that is thousands of synchronous full redraws on a terminal, which slowed the run
 * itself. Redraws are coalesced to at most one per frame instead.
 */
class CoalescingRenderer extends DefaultRenderer {
  // We choose the terminal ourselves (CliIO.isTTY), so listr2 must not second-guess process.stdout.
  static override nonTTY = true;
  private pending: NodeJS.Timeout | undefined;

  override update(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      super.update();
    }, FRAME_MS);
  }

  override end(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    // listr2 decides what to fold from options it caches while drawing; a run faster than one
    // frame was never drawn, so draw once before the final frame.
    super.update();
    super.end();
  }
}

const FRAME_MS = 80;

/** A promise settled from outside, created by whichever side (event or listr task) asks first. */
class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  constructor() {
    this.promise = new Promise<T>((r) => (this.resolve = r));
  }
}

class Rendezvous<T> {
  private readonly map = new Map<string, Deferred<T>>();
  get(key: string): Deferred<T> {
    let d = this.map.get(key);
    if (!d) {
      d = new Deferred<T>();
      this.map.set(key, d);
    }
    return d;
  }
}

type Drawn = typeof CoalescingRenderer;
type Wrapper = ListrTaskWrapper<unknown, Drawn, Drawn>;
type Entry = ListrTask<unknown, Drawn, Drawn>;

export function listrRenderer(streams: TerminalStreams): Renderer {
  const hostTasks = new Rendezvous<HostTasksEvent | undefined>();
  const hostDone = new Rendezvous<HostFinishEvent>();
  const taskDone = new Rendezvous<TaskFinishEvent>();
  const handlersStart = new Rendezvous<HandlersStartEvent | undefined>();
  const handlerDone = new Rendezvous<HandlerFinishEvent>();
  const plan = new PlanCollector();
  const warnings: string[] = [];
  const trailer: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  const write = (line: string) => {
    streams.stdout.write(`${line}\n`);
  };

  const taskKey = (play: string, host: string, index: number) => `${play}\u0000${host}\u0000${index}`;
  const hostKey = (play: string, host: string) => `${play}\u0000${host}`;

  const hostTask = (play: string, host: string): Entry => ({
    title: host,
    task: async (_ctx, t) => {
      void hostDone.get(hostKey(play, host)).promise.then((e) => {
        const status = e.status === 'changed' ? color.yellow('changed') : e.status === 'ok' ? color.green('ok') : e.status;
        t.title = `${e.host} ${status} ${color.dim(formatDuration(e.durationMs))}`;
      });
      const planned = await Promise.race([hostTasks.get(hostKey(play, host)).promise, hostDone.get(hostKey(play, host)).promise.then(() => undefined)]);
      if (!planned || planned.tasks.length === 0) {
        const finished = await hostDone.get(hostKey(play, host)).promise;
        settleHost(t as Wrapper, finished);
        return undefined;
      }
      return t.newListr(
        planned.tasks.map((task, index) => ({
          title: `${task.role}: ${task.name}`,
          task: async (_c: unknown, tt: Wrapper) => {
            const e = await taskDone.get(taskKey(play, host, index)).promise;
            tt.title = `${e.role}: ${e.task} ${color.dim(formatDuration(e.durationMs))}${e.status === 'changed' ? ` ${color.yellow('changed')}` : ''}`;
            if (e.status === 'skipped') tt.skip(`${e.role}: ${e.task} (${e.reason ?? 'skipped'})`);
            if (e.status === 'interrupted') tt.skip(`${e.role}: ${e.task} (${e.error?.message ?? 'interrupted'})`);
            if (e.status === 'failed' || e.status === 'unreachable') {
              throw new Error(formatFailure(host, `${e.role}: ${e.task}`, e.error ?? { message: e.status }));
            }
          },
        })),
        // A finished host folds its tasks away (a failed one keeps them open).
        { concurrent: false, exitOnError: true, rendererOptions: { collapseSubtasks: true } },
      );
    },
  });

  const settleHost = (t: Wrapper, e: HostFinishEvent) => {
    if (e.status === 'failed' || e.status === 'unreachable') {
      throw new Error(formatFailure(e.host, e.step ?? 'run', e.error ?? { message: e.status }));
    }
    if (e.status === 'skipped' || e.status === 'interrupted') t.skip(`${e.host} ${e.status} (${e.reason ?? e.error?.message ?? e.status})`);
  };

  const handlersTask = (play: string): Entry => ({
    task: async (_ctx, t) => {
      const started = await handlersStart.get(play).promise;
      if (!started) return undefined;
      t.title = 'handlers';
      const runs = started.runs.flatMap((r) => r.hosts.map((host) => ({ handler: r.handler, host, rolling: r.rolling })));
      // Once folded away, the line still says what ran where.
      void Promise.all(runs.map((r) => handlerDone.get(`${play}\u0000${r.handler}\u0000${r.host}`).promise)).then(() => {
        t.title = `handlers: ${started.runs.map((r) => `${r.handler} on ${r.hosts.join(', ')}${r.rolling ? ' (rolling)' : ''}`).join('; ')}`;
      });
      return t.newListr(
        runs.map((r) => ({
          title: `${r.handler} on ${r.host}${r.rolling ? ' (rolling)' : ''}`,
          task: async (_c: unknown, tt: Wrapper) => {
            const e = await handlerDone.get(`${play}\u0000${r.handler}\u0000${r.host}`).promise;
            tt.title = `${e.handler} on ${e.host} ${color.dim(formatDuration(e.durationMs))}${e.reason ? ` (${e.reason})` : ''}`;
            if (e.status === 'skipped' || e.status === 'interrupted') tt.skip(`${e.handler} on ${e.host} (${e.reason ?? e.error?.message ?? e.status})`);
            if (e.status === 'failed' || e.status === 'unreachable') {
              throw new Error(formatFailure(e.host, `handler ${e.handler}`, e.error ?? { message: e.status }));
            }
          },
        })),
        { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: true } },
      );
    },
  });

  const runPlay = async (e: PlayStartEvent, finished: Promise<RunEvent>): Promise<void> => {
    const rendererOptions = {
      logger: new ListrLogger({ processOutput: new ProcessOutput(streams.stdout, streams.stderr) }),
      // A finished play keeps one line per host, with its outcome and time.
      collapseSubtasks: false,
      collapseErrors: false,
    };
    const listr = new Listr<unknown, typeof CoalescingRenderer, typeof CoalescingRenderer>(
      [
        {
          title: `PLAY [${e.play}] ${e.hosts.length} host(s)${e.serial ? `, ${e.serial} at a time` : ''}`,
          task: (_ctx, t) =>
            t.newListr([...e.hosts.map((h) => hostTask(e.play, h)), handlersTask(e.play)], {
              concurrent: true,
              exitOnError: false,
              rendererOptions: { collapseSubtasks: false },
            }),
        },
      ],
      {
        renderer: CoalescingRenderer,
        fallbackRenderer: CoalescingRenderer,
        exitOnError: false,
        registerSignalListeners: false,
        rendererOptions,
        fallbackRendererOptions: rendererOptions,
      },
    );
    await listr.run().catch(() => undefined);
    const done = await finished;
    if (done.type === 'play:finish') {
      if (done.error) write(color.red(formatFailure('play', done.play, done.error)));
      write(color.dim(`PLAY [${done.play}] ${done.status} in ${formatDuration(done.durationMs)}`));
    }
  };

  const playDone = new Rendezvous<RunEvent>();

  const sink: EventSink = (e) => {
    plan.add(e);
    switch (e.type) {
      case 'run:start':
        chain = chain.then(() => write(`${e.dryRun ? 'PLAN' : 'APPLY'} ${e.playbook} on ${e.hosts.length} host(s)`));
        break;
      case 'play:start': {
        const finished = playDone.get(e.play).promise;
        chain = chain.then(() => runPlay(e, finished));
        break;
      }
      case 'play:skip':
        chain = chain.then(() => write(color.dim(`PLAY [${e.play}] skipped: ${e.reason}`)));
        break;
      case 'host:tasks':
        hostTasks.get(hostKey(e.play, e.host)).resolve(e);
        break;
      case 'task:finish':
        taskDone.get(taskKey(e.play, e.host, e.index)).resolve(e);
        break;
      case 'host:finish': {
        hostTasks.get(hostKey(e.play, e.host)).resolve(undefined);
        hostDone.get(hostKey(e.play, e.host)).resolve(e);
        break;
      }
      case 'handlers:start':
        handlersStart.get(e.play).resolve(e);
        break;
      case 'handler:finish':
        handlerDone.get(`${e.play}\u0000${e.handler}\u0000${e.host}`).resolve(e);
        break;
      case 'play:finish':
        handlersStart.get(e.play).resolve(undefined);
        playDone.get(e.play).resolve(e);
        break;
      case 'warning':
        warnings.push(`WARNING ${e.host ? `${e.host}: ` : ''}${e.message}`);
        break;
      case 'run:stop':
        warnings.push(formatStop(e));
        break;
      case 'run:finish':
        if (e.dryRun) trailer.push('', ...plan.format());
        if (warnings.length > 0) trailer.push('', ...warnings);
        trailer.push('', ...formatRecap(e.recap), ...formatLeftBehind(e.leftBehind), formatOutcome(e));
        break;
      default:
        break;
    }
  };

  return {
    sink,
    done: async () => {
      await chain;
      for (const line of trailer) write(line);
    },
  };
}
