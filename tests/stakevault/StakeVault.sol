// SPDX-License-Identifier: MIT
// StakeVault.sol -- the test chain's contracts for the StakeVault domain:
// a USDC-like token (6 decimals) and a vault with the events of the original
// (Staked, Unstaked, RequiredStakeUpdated) and the same rules: the first
// stake must reach the required stake, unstake needs enough stake, only the
// owner changes the requirement.  Not upgradeable (the proxy adds nothing
// to the events).  Rebuild the checked-in bytecode with ./build-contracts.
pragma solidity ^0.8.20;

contract TestUSDC {
    string public constant name = "Test USD Coin";
    string public constant symbol = "tUSDC";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        require(balanceOf[from] >= amount, "balance");
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}

contract StakeVault {
    TestUSDC public stakeToken;
    uint256 public requiredStake;
    address public owner;
    mapping(address => uint256) public stakes;
    mapping(address => uint256) public stakedAt;

    event Staked(address indexed developer, uint256 amount);
    event Unstaked(address indexed developer, uint256 amount);
    event RequiredStakeUpdated(uint256 oldAmount, uint256 newAmount);

    constructor(TestUSDC token, uint256 required) {
        require(required > 0, "Required stake must be positive");
        stakeToken = token;
        requiredStake = required;
        owner = msg.sender;
    }

    function stake(uint256 amount) external {
        require(amount > 0, "Amount must be positive");
        if (stakes[msg.sender] == 0) {
            require(amount >= requiredStake, "Amount below required stake");
        }
        require(stakeToken.transferFrom(msg.sender, address(this), amount), "Transfer failed");
        stakes[msg.sender] += amount;
        stakedAt[msg.sender] = block.timestamp;
        emit Staked(msg.sender, amount);
    }

    function unstake(uint256 amount) external {
        require(stakes[msg.sender] >= amount, "Insufficient stake");
        stakes[msg.sender] -= amount;
        require(stakeToken.transfer(msg.sender, amount), "Transfer failed");
        emit Unstaked(msg.sender, amount);
    }

    function getStake(address developer) external view returns (uint256) {
        return stakes[developer];
    }

    function setRequiredStake(uint256 newAmount) external {
        require(msg.sender == owner, "not the owner");
        require(newAmount > 0, "Required stake must be positive");
        uint256 old = requiredStake;
        requiredStake = newAmount;
        emit RequiredStakeUpdated(old, newAmount);
    }
}

// For the benchmarks only: the vault's events, many per transaction, for
// developers 1..spread (address(uint160(i % spread + 1))).
contract StakeVaultBench {
    event Staked(address indexed developer, uint256 amount);

    function emitStakes(uint256 n, uint256 spread, uint256 amount) external {
        for (uint256 i = 0; i < n; i++) {
            emit Staked(address(uint160((i % spread) + 1)), amount);
        }
    }
}
