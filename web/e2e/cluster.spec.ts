// Two people on two different nodes of a three-node cluster see each other online and chat.

import { expect, test } from '@playwright/test';
import { expectOnline, messagesWithBody, onlineUser, openAs, send } from './helpers';
import { startCluster, type DistchatServer } from './server';

let nodes: DistchatServer[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  nodes = await startCluster();
});

test.afterAll(async () => {
  await Promise.all(nodes.map((n) => n.dispose()));
});

test('people on different nodes see each other online and chat', async ({ browser }) => {
  const alice = await openAs(browser, nodes[0].url, 'Alice');
  const bob = await openAs(browser, nodes[2].url, 'Bob');

  await expect(onlineUser(alice.page, 'Bob')).toBeVisible();
  await expect(onlineUser(bob.page, 'Alice')).toBeVisible();

  await send(alice.page, 'hello from node 1');
  await expect(messagesWithBody(bob.page, 'hello from node 1')).toHaveCount(1);
  await send(bob.page, 'and hello from node 3');
  await expect(messagesWithBody(alice.page, 'and hello from node 3')).toHaveCount(1);

  // Bob leaves: Alice, on another node, sees him go.
  await bob.context.close();
  await expect(onlineUser(alice.page, 'Bob')).toHaveCount(0);
  await expectOnline(alice.page);
  await alice.context.close();
});
