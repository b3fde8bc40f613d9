// GraphiQL for the CRM: every script, style and font comes from the service itself, so the
// page works without internet access and under a Content-Security-Policy of 'self'.
import { explorerPlugin } from '@graphiql/plugin-explorer';
import '@graphiql/plugin-explorer/style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { setNonce } from 'get-nonce';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { createClient } from 'graphql-ws';
import { createRoot } from 'react-dom/client';

import { DEFAULT_QUERY } from './default-query.js';
import './crm.css';

// Dialogs add a <style> element while open (to stop the page scrolling behind them). The
// Content-Security-Policy admits it with the nonce the page gave this script.
const nonce = document.currentScript?.nonce;
if (nonce) setNonce(nonce);

// The API answers on the page's own URL: GET with Accept: text/html is this page, POST is
// GraphQL. Subscriptions use graphql-transport-ws on the same path.
const httpUrl = new URL(window.location.pathname, window.location.origin).href;
const socketUrl = httpUrl.replace(/^http/, 'ws');

// A WebSocket authenticates once, in connection_init, so the headers typed in the Headers
// tab travel as its connection parameters; new headers open a new connection.
let current = { key: null, fetcher: null, socket: null };

function fetcherFor(headers) {
  const key = JSON.stringify(headers ?? {});
  if (current.key !== key) {
    current.socket?.dispose();
    const socket = createClient({ url: socketUrl, lazy: true, connectionParams: headers ?? {} });
    current = { key, socket, fetcher: createGraphiQLFetcher({ url: httpUrl, wsClient: socket }) };
  }
  return current.fetcher;
}

function fetcher(params, options) {
  return fetcherFor(options?.headers)(params, options);
}

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[explorerPlugin()]}
    defaultQuery={DEFAULT_QUERY}
    defaultEditorToolsVisibility="headers"
    isHeadersEditorEnabled
  />,
);
