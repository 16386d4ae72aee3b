// A charging station built on npm ocpp-rpc in strict mode (every message validated
// against the official OCPP JSON schemas), for gridd's interop test
// (fieldbus/ocpp/interop_test.go). Usage: node station.mjs URL ID PASSWORD PROTOCOL
// It connects, boots, starts a transaction, sends one malformed frame and one call of
// an unknown action, and prints one JSON line per event on stdout. It answers
// SetChargingProfile, GetCompositeSchedule (from the profiles it holds) and
// TriggerMessage (MeterValues at the power its composite limit allows), and exits
// when its standard input closes.
import { RPCClient } from 'ocpp-rpc';

const [url, identity, password, protocol] = process.argv.slice(2);
const v16 = protocol === 'ocpp1.6';
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const now = () => new Date().toISOString();

const cli = new RPCClient({ endpoint: url, identity, password, protocols: [protocol], strictMode: true, reconnect: false });
cli.on('strictValidationFailure', (e) => out({ strictFailure: { method: e.method, outbound: e.outbound, isCall: e.isCall, error: String(e.error) } }));
cli.on('badMessage', (e) => out({ badMessage: String(e.error) }));
cli.on('close', (e) => out({ closed: e }));

const inbound = [];
cli.on('message', ({ message, outbound }) => { if (!outbound) inbound.push(String(message)); });

const profiles = []; // {evse, purpose, stack, limit, unit, validTo, tx}
let txId = null;
let energyWh = 1000;

function limitFor(evse) {
  const t = Date.now();
  const valid = profiles.filter((p) => !p.validTo || Date.parse(p.validTo) > t);
  const pick = (f) => valid.filter(f).sort((a, b) => b.stack - a.stack)[0];
  return pick((p) => p.purpose === 'TxProfile' && p.evse === evse && String(p.tx) === String(txId)) ||
    pick((p) => p.purpose === 'TxDefaultProfile' && p.evse === evse) ||
    pick((p) => p.purpose === 'TxDefaultProfile' && p.evse === 0);
}

function powerW() {
  const p = limitFor(1);
  if (!p) return 11000;
  return p.unit === 'A' ? p.limit * 230 * 3 : p.limit;
}

cli.handle('SetChargingProfile', ({ params }) => {
  const cp = v16 ? params.csChargingProfiles : params.chargingProfile;
  const sched = v16 ? cp.chargingSchedule : cp.chargingSchedule[0];
  const evse = v16 ? params.connectorId : params.evseId;
  const id = v16 ? cp.chargingProfileId : cp.id;
  for (let i = profiles.length - 1; i >= 0; i--) if (profiles[i].id === id) profiles.splice(i, 1);
  profiles.push({ id, evse, purpose: cp.chargingProfilePurpose, stack: cp.stackLevel, limit: sched.chargingSchedulePeriod[0].limit,
    unit: sched.chargingRateUnit, validTo: cp.validTo, tx: cp.transactionId });
  out({ setChargingProfile: { evse, purpose: cp.chargingProfilePurpose, stack: cp.stackLevel, limit: sched.chargingSchedulePeriod[0].limit, validTo: cp.validTo || null } });
  return { status: 'Accepted' };
});

cli.handle('GetCompositeSchedule', ({ params }) => {
  const evse = v16 ? params.connectorId : params.evseId;
  const p = limitFor(evse);
  out({ getCompositeSchedule: { evse, limit: p ? p.limit : null } });
  if (!p) return { status: 'Rejected' };
  const periods = [{ startPeriod: 0, limit: p.limit }];
  if (v16) {
    return { status: 'Accepted', connectorId: evse, scheduleStart: now(),
      chargingSchedule: { duration: params.duration, chargingRateUnit: p.unit, chargingSchedulePeriod: periods } };
  }
  return { status: 'Accepted', schedule: { evseId: evse, duration: params.duration, scheduleStart: now(),
    chargingRateUnit: p.unit, chargingSchedulePeriod: periods } };
});

cli.handle('TriggerMessage', ({ params }) => {
  if (params.requestedMessage !== 'MeterValues') return { status: 'NotImplemented' };
  setTimeout(async () => {
    const w = powerW();
    energyWh += 10;
    try {
      if (v16) {
        await cli.call('MeterValues', { connectorId: 1, transactionId: txId, meterValue: [{ timestamp: now(), sampledValue: [
          { value: String(w), measurand: 'Power.Active.Import', unit: 'W' },
          { value: String(energyWh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
      } else {
        await cli.call('MeterValues', { evseId: 1, meterValue: [{ timestamp: now(), sampledValue: [
          { value: w, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } },
          { value: energyWh, measurand: 'Energy.Active.Import.Register' }] }] });
      }
    } catch (e) { out({ error: 'MeterValues: ' + e.message }); }
  }, 5);
  return { status: 'Accepted' };
});

cli.handle(({ method }) => { out({ unhandled: method }); throw new Error('not implemented'); });

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const m = inbound.find(pred);
    if (m) return m;
    if (Date.now() > end) return null;
    await new Promise((r) => setTimeout(r, 10));
  }
}

try {
  await cli.connect();
  out({ connected: cli.protocol });
  if (v16) {
    const boot = await cli.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop' });
    out({ boot: boot.status });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: now() });
    const start = await cli.call('StartTransaction', { connectorId: 1, idTag: 'TAG-1', meterStart: energyWh, timestamp: now() });
    txId = start.transactionId;
  } else {
    const boot = await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'interop', vendorName: 'ocpp-rpc' } });
    out({ boot: boot.status });
    await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
    txId = 'tx-' + identity;
    await cli.call('TransactionEvent', { eventType: 'Started', timestamp: now(), triggerReason: 'CablePluggedIn', seqNo: 0,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, evse: { id: 1, connectorId: 1 },
      meterValue: [{ timestamp: now(), sampledValue: [{ value: energyWh, measurand: 'Energy.Active.Import.Register' }] }] });
    await cli.call('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_three_phase',
      departureTime: new Date(Date.now() + 4 * 3600e3).toISOString(),
      acChargingParameters: { energyAmount: 25000, evMinCurrent: 6, evMaxCurrent: 32, evMaxVoltage: 400 } } });
  }
  out({ transaction: txId });
  // A malformed frame and an unknown action: gridd answers each with a CALLERROR.
  cli.sendRaw('this is not an OCPP frame');
  const malformed = await waitFor((m) => m.startsWith('[4,"-1"'), 3000);
  cli.sendRaw(JSON.stringify([2, 'unknown-1', 'NoSuchAction', {}]));
  const unknown = await waitFor((m) => m.startsWith('[4,"unknown-1"'), 3000);
  // The connection still works after both.
  const hb = await cli.call('Heartbeat', {});
  out({ ready: true, malformed, unknown, heartbeat: !!hb.currentTime });
} catch (e) {
  out({ error: String(e && e.stack || e) });
  process.exit(1);
}

process.stdin.resume();
process.stdin.on('end', async () => { await cli.close({ force: true }); process.exit(0); });
