import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomList } from '../../main/resources/web/rooms.js';

test('counts unread messages in the rooms not shown, and clears them when shown', () => {
  const rooms = new RoomList();
  rooms.join('lobby');
  rooms.join('dev');
  assert.equal(rooms.active, 'dev');
  rooms.arrived('lobby', {});
  rooms.arrived('lobby', {});
  rooms.arrived('lobby', { ours: true });
  rooms.arrived('dev', { seen: true });
  assert.equal(rooms.unreadIn('lobby'), 2);
  assert.equal(rooms.unreadIn('dev'), 0);
  rooms.arrived('dev', { seen: false }); // the page is hidden
  assert.equal(rooms.unreadIn('dev'), 1);
  rooms.seen();
  assert.equal(rooms.unreadIn('dev'), 0);
  rooms.show('lobby');
  assert.equal(rooms.unreadIn('lobby'), 0);
});

test('a reload comes back to the same rooms, the same one shown', () => {
  const rooms = new RoomList();
  rooms.join('lobby');
  rooms.join('dev');
  rooms.show('lobby');
  const again = new RoomList(JSON.parse(JSON.stringify(rooms.saved())));
  assert.deepEqual(again.joined, ['lobby', 'dev']);
  assert.equal(again.active, 'lobby');
  assert.deepEqual(new RoomList({ joined: 'nonsense', active: 3 }).joined, []);
});

test('lists joined rooms first, then the listed others', () => {
  const rooms = new RoomList();
  rooms.join('dev');
  rooms.listing([{ room: 'lobby', members: 3, seq: 9, lastTime: 1 }, { room: 'dev', members: 1 }, { nope: 1 }]);
  assert.deepEqual(rooms.entries().map((e) => [e.room, e.joined, e.members]), [['dev', true, 1], ['lobby', false, 3]]);
  rooms.leave('dev');
  assert.equal(rooms.active, null);
  assert.deepEqual(rooms.entries().map((e) => [e.room, e.joined]), [['lobby', false], ['dev', false]]);
});
