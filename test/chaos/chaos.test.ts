/**
 * The short crash-consistency run inside the normal test command: three rounds of chaos.ts (fixed seed),
 * each SIGKILLing a real occitan mid-way through mixed operations on docker, libvirt and ovs, then
 * checking after the restart that store and platforms agree. Needs the daemons of scripts/services.sh
 * (docker, libvirt, ovs); a missing one fails naming the command that starts it. Waits are bounded polls.
 */
import { runChaos } from './chaos';

jest.setTimeout(900_000);

test('SIGKILL mid-way through mixed operations, 3 rounds: no 5xx, nothing lost, no orphan, no missing object, no ghost', async () => {
  const r = await runChaos({ rounds: 3, seed: 8, ops: 10 });
  expect(r.rounds).toHaveLength(3);
  for (const round of r.rounds) {
    expect(round.answeredAtKill).toBeGreaterThanOrEqual(1);
    expect(round.answeredAtKill).toBeLessThan(round.planned);
    expect(round.look.unsettled).toEqual([]);
  }
  expect(r.rounds.flatMap((x) => x.lost)).toEqual([]);
  expect(r.rounds.flatMap((x) => [...x.look.orphans, ...x.look.missing, ...x.look.ghosts])).toEqual([]);
  expect(r.fiveXX).toBe(0);
  expect(r.summary).toMatch(/cases \d+, 5xx 0, lost 0, orphans 0, missing 0, ghosts 0/);
});
