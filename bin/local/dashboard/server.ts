/**
 * The live page on 127.0.0.1: `/` the page, `/panels` the panels alone (the page's script replaces them every two
 * seconds), `/shards` each shard's watermark and lag, `/figures` the run's own counts (when given),
 * `/features?key=K` a feature lookup (values as of now, with their status).
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PanelDefinition } from '../../../lambda/contract/dashboard-panels';
import type { EmfFeed } from './emf-feed';
import { escapeHtml, formatValue, renderFigures, renderPage, renderPanels } from './page';

export interface ShardRow {
  readonly shard: string;
  readonly watermark: number | null;
}

export interface DashboardServerOptions {
  readonly title: string;
  readonly feed: EmfFeed;
  readonly panels: readonly PanelDefinition[];
  /** Each shard's watermark (the state table's shard items). */
  readonly shards: () => Promise<readonly ShardRow[]>;
  /** The features of a key as the features endpoint answers them. */
  readonly lookup: (key: string) => Promise<unknown>;
  /** Counts of the run that no EMF metric carries (write units, serving requests), shown above the panels. */
  readonly figures?: () => Readonly<Record<string, number>>;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default 5000 */
  readonly periodMs?: number;
  readonly now?: () => number;
}

export interface DashboardServer {
  readonly url: string;
  close(): Promise<void>;
}

const SCRIPT = `
async function refresh(){
  try{
    document.getElementById('panels').innerHTML=await (await fetch('/panels')).text();
    document.getElementById('shards').innerHTML=await (await fetch('/shards')).text();
    const f=document.getElementById('figures');
    if(f)f.innerHTML=await (await fetch('/figures')).text();
  }catch(e){}
}
setInterval(refresh,2000);
document.getElementById('lookup').addEventListener('submit',async(ev)=>{
  ev.preventDefault();
  const key=document.getElementById('key').value;
  const out=document.getElementById('lookup-result');
  const res=await fetch('/features?key='+encodeURIComponent(key));
  const body=await res.json();
  const table=document.getElementById('lookup-table');
  table.replaceChildren();
  if(body&&body.features){
    const head=document.createElement('tr');
    for(const h of ['feature','value','status','window start','written at']){const th=document.createElement('th');th.textContent=h;head.appendChild(th);}
    table.appendChild(head);
    for(const [name,f] of Object.entries(body.features)){
      const tr=document.createElement('tr');
      tr.dataset.feature=name;
      const iso=(t)=>t===null||t===undefined?'–':new Date(t).toISOString();
      for(const [cls,v] of [['name',name],['value',f.value===null?'–':String(f.value)],['status',f.status],['window',iso(f.windowStart)],['written',iso(f.writtenAt)]]){const td=document.createElement('td');td.className=cls;td.textContent=v;tr.appendChild(td);}
      table.appendChild(tr);
    }
  }
  out.textContent=JSON.stringify(body,null,2);
  out.dataset.status=String(res.status);
});`;

export async function startDashboardServer(o: DashboardServerOptions): Promise<DashboardServer> {
  const period = o.periodMs ?? 5000;
  const now = o.now ?? Date.now;
  const shardsHtml = async (): Promise<string> => {
    const rows = (await o.shards()).map((s) => {
      const lag = s.watermark === null ? undefined : now() - s.watermark;
      return `<tr data-shard="${escapeHtml(s.shard)}"><td>${escapeHtml(s.shard)}</td><td>${s.watermark === null ? '–' : new Date(s.watermark).toISOString()}</td><td>${formatValue(lag)}</td></tr>`;
    });
    return `<table class="shards"><tr><th>shard</th><th>watermark</th><th>lag (ms)</th></tr>${rows.join('')}</table>`;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        if (url.pathname === '/') {
          const figures = o.figures === undefined ? '' : `<h2>Figures of the run</h2><div id="figures">${renderFigures(o.figures())}</div>`;
          const extra = `${figures}<h2>Shards</h2><div id="shards">${await shardsHtml()}</div>
<h2>Feature lookup</h2><p>Values as of now, with their status, as the features endpoint answers them.</p><form id="lookup"><input id="key" name="key" placeholder="entity key"> <button type="submit">Look up</button></form><table id="lookup-table" class="lookup"></table><pre id="lookup-result"></pre>`;
          const html = renderPage({ title: o.title, subtitle: `Live: panels from the metrics the handlers emit (EMF), per ${period / 1000} s; refreshed every 2 s.`, panels: renderPanels(o.feed, o.panels, period), extra, script: SCRIPT });
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
        } else if (url.pathname === '/panels') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(renderPanels(o.feed, o.panels, period));
        } else if (url.pathname === '/figures' && o.figures !== undefined) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(renderFigures(o.figures()));
        } else if (url.pathname === '/shards') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(await shardsHtml());
        } else if (url.pathname === '/features') {
          const key = url.searchParams.get('key');
          if (key === null || key === '') {
            res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad request', message: 'key is required' }));
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await o.lookup(key)));
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        }
      } catch (e) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal error', message: (e as Error).message }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // A browser keeps its connections open: they would hold close() until they time out.
      server.closeAllConnections();
    });
    return closing;
  };
  return { url: `http://127.0.0.1:${port}/`, close };
}
