-- Producer rows for t2200-block-fetch.  Vault V = 0x50aa..efbd, vault W = 0x586b..6cc.
-- Blocks: 99 = 0xde9 (V's deployment block: events but no block row), 100 = 0x64a,
-- 101 = 0x65a, 102 = 0x66a (REVERTED) replaced by 0x66b, 103 = 0x67a.
INSERT INTO starknet_blocks (block_number, block_hash, parent_hash, timestamp, status) VALUES
	(100, '0x64a', '0xde9', 1735711200, 'MINED'),
	(101, '0x65a', '0x64a', 1735711206, 'MINED'),
	(102, '0x66a', '0x65a', 1735711212, 'REVERTED'),
	(102, '0x66b', '0x65a', 1735711213, 'MINED'),
	(103, '0x67a', '0x66b', 1735711219, 'MINED');
INSERT INTO events (event_nonce, block_number, block_hash, vault_address, event_name, event_keys, event_data, transaction_hash) VALUES
	(1, 99, '0xde9', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'ContractDeployed',
		'{0x26b160f10156dea0639bec90696772c640b9706a47f5b8c52ea1abe5858b34d}',
		'{0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd,0x7ce7089cb75a590b9485f6851d8998fa885494cc7a70dbae8f3db572586b8a8}', '0xd1'),
	(2, 100, '0x64a', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2,0x55df044c093d7b2408f6ad897f6d71a996afab8e1b17932e9c6438cb99593f}',
		'{0x61a80,0x0,0x61a80,0x0,0x61a80,0x0}', '0x1c1'),
	(1, 100, '0x64a', '0x586b503f2c806ec2555dfd763ef3d2e05d9789c0147da1c47b5057d46bbc6cc', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2,0xdf31182cb5970fb2c2307bffa9efe43cfbe236ba55798be43f93e03c4ce8e8}',
		'{0x1,0x0,0x1,0x0,0x1,0x0}', '0x1c0'),
	(3, 100, '0x64a', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2,0xdf31182cb5970fb2c2307bffa9efe43cfbe236ba55798be43f93e03c4ce8e8}',
		'{0x927d4,0x0,0x927d4,0x0,0xf4254,0x0}', '0x1c2'),
	(4, 101, '0x65a', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'WithdrawalQueued',
		'{0x000ABC,0x0055DF044C093D7B2408F6AD897F6D71A996AFAB8E1B17932E9C6438CB99593F}',
		'{0x01388,0x1,0x00}', '0x0001C3'),
	(5, 102, '0x66a', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}', '{0x5}', '0x1c4'),
	(6, 102, '0x66b', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}', '{0x6}', '0x1c5'),
	(2, 103, '0x67a', '0x586b503f2c806ec2555dfd763ef3d2e05d9789c0147da1c47b5057d46bbc6cc', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}', '{}', '0x1c6'),
	(7, 103, '0x67a', '0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd', 'Deposit',
		'{0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}', '{0x7}', '0x1c7');
